"""A client's lifecycle: disabling revokes every token it holds at once, enabling lets it back, removing forgets it;
used assertion ids and expired tokens are purged after their lifetime; `hgw serve` needs HGW_BASE_URL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlmodel import col, func, select

from gateway.audit import AuditRecord
from gateway.audit.sequencer import sequence
from gateway.cli import cli
from gateway.context import Gateway
from gateway.security import client_admin
from gateway.security.client_auth import ClientKey, client_assertion
from gateway.security.clients import issue_token
from gateway.security.purge import TokenPurge
from gateway.simulate.parties import party_client
from gateway.store.security_tables import AccessToken, ApiClient, AssertionJti
from tests.integration.helpers import hgw_runner

CLIENTS = "/api/v1/admin/clients"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _form(assertion: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}


async def _count(gw: Gateway, table: Any, client_id: str | None = None) -> int:
    query = select(func.count()).select_from(table)
    if client_id is not None:
        query = query.where(col(table.client_id) == client_id)
    async with gw.sessions() as session:
        return int((await session.exec(query)).one())


async def _security_changes(gw: Gateway, client_id: str) -> list[str]:
    await sequence(gw, wait=True)  # the entries committed so far, chained
    async with gw.sessions() as session:
        rows = await session.exec(
            select(AuditRecord)
            .where(AuditRecord.action == "security.configuration.change", AuditRecord.entity_id == client_id)
            .order_by(col(AuditRecord.seq))
        )
        changes = ("client-added", "client-disabled", "client-enabled", "client-removed")
        return [next(c for c in changes if c in r.event_json) for r in rows.all()]


async def test_disabling_a_client_revokes_its_tokens_at_once_and_enabling_lets_it_back(
    gw: Gateway, parties: dict[str, ClientKey], base_url: str, anon: httpx.AsyncClient
) -> None:
    trust_key = parties["trust"]
    trust = party_client(base_url, trust_key)
    second = party_client(base_url, trust_key)  # two live tokens of the same client
    operator = party_client(base_url, parties["operator"])
    async with trust, second, operator:
        for client in (trust, second):
            assert (await client.get("/api/v1/prescriptions/nothing")).status_code == 404  # authenticated
        listed = {c["client_id"]: c for c in (await operator.get(CLIENTS)).json()["clients"]}
        assert listed[trust_key.client_id]["active"] and listed[trust_key.client_id]["live_tokens"] == 2
        assert "jwks" not in listed[trust_key.client_id]

        r = await operator.post(f"{CLIENTS}/{trust_key.client_id}/disable")
        assert r.status_code == 200 and r.json()["active"] is False, r.text
        assert await _count(gw, AccessToken, trust_key.client_id) == 0
        for client in (trust, second):  # the tokens already handed out stop working, not just new ones
            refused = await client.get("/api/v1/prescriptions/nothing")
            assert refused.status_code == 401, refused.text
        fresh = await anon.post("/oauth2/token", data=_form(client_assertion(trust_key, f"{base_url}/oauth2/token")))
        assert fresh.status_code == 401 and fresh.json()["error"] == "invalid_client"

        assert (await operator.post(f"{CLIENTS}/{trust_key.client_id}/enable")).json()["active"] is True
        again = party_client(base_url, trust_key)
        async with again:
            assert (await again.get("/api/v1/prescriptions/nothing")).status_code == 404
    assert await _security_changes(gw, trust_key.client_id) == ["client-added", "client-disabled", "client-enabled"]


async def test_a_token_issued_before_the_client_was_disabled_is_refused(
    gw: Gateway, parties: dict[str, ClientKey], base_url: str, anon: httpx.AsyncClient
) -> None:
    """Revocation holds even for a token row written after the disable (tokens are checked against the client)."""
    key = parties["provider"]
    r = await anon.post("/oauth2/token", data=_form(client_assertion(key, f"{base_url}/oauth2/token")))
    token = r.json()["access_token"]
    async with gw.sessions() as session, session.begin():
        client = await session.get(ApiClient, key.client_id)
        assert client is not None
        client.active = False  # as another process's disable, racing with this token's issue
        session.add(client)
    r = await anon.get("/FHIR/R4/metadata", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_removing_a_client_forgets_it_and_its_tokens(
    gw: Gateway, parties: dict[str, ClientKey], base_url: str
) -> None:
    key = parties["other_provider"]
    provider = party_client(base_url, key)
    operator = party_client(base_url, parties["operator"])
    async with provider, operator:
        assert (await provider.get("/FHIR/R4/metadata")).status_code == 200
        assert await _count(gw, AssertionJti, key.client_id) == 1
        r = await operator.delete(f"{CLIENTS}/{key.client_id}")
        assert r.status_code == 200 and r.json() == {
            "removed": key.client_id,
            "role": "provider",
            "ods": "VNCEL",
            "tokens_revoked": 1,
        }
        assert (await provider.get("/FHIR/R4/metadata")).status_code == 401
        assert await _count(gw, AssertionJti, key.client_id) == 0
        assert (await operator.delete(f"{CLIENTS}/{key.client_id}")).status_code == 404
        assert (await operator.post(f"{CLIENTS}/{key.client_id}/enable")).status_code == 404
    assert await _security_changes(gw, key.client_id) == ["client-added", "client-removed"]


async def test_only_operators_manage_clients_and_not_their_own(
    parties: dict[str, ClientKey], base_url: str, gw: Gateway
) -> None:
    trust = party_client(base_url, parties["trust"])
    operator_key = parties["operator"]
    operator = party_client(base_url, operator_key)
    async with trust, operator:
        assert (await trust.get(CLIENTS)).status_code == 403
        assert (await trust.post(f"{CLIENTS}/{parties['provider'].client_id}/disable")).status_code == 403
        assert (await trust.delete(f"{CLIENTS}/{parties['provider'].client_id}")).status_code == 403
        for attempt in (
            operator.post(f"{CLIENTS}/{operator_key.client_id}/disable"),
            operator.delete(f"{CLIENTS}/{operator_key.client_id}"),
        ):
            r = await attempt
            assert r.status_code == 409 and "itself" in r.text
        assert (await operator.post(f"{CLIENTS}/{'x' * 65}/disable")).status_code in (400, 404, 422)
    assert await _count(gw, ApiClient) == 5


async def test_used_assertion_ids_and_expired_tokens_are_purged_after_their_lifetime(
    gw: Gateway, parties: dict[str, ClientKey], base_url: str
) -> None:
    client = party_client(base_url, parties["trust"])
    async with client:
        assert (await client.get("/api/v1/prescriptions/nothing")).status_code == 404
    assert (await client_admin.purge_expired(gw)).as_dict() == {"assertion_jtis": 0, "access_tokens": 0}
    real = gw.clock
    gw.clock = lambda: real() + timedelta(minutes=6)  # past the assertion's lifetime, not the token's (1 h here)
    assert (await client_admin.purge_expired(gw)).as_dict() == {"assertion_jtis": 1, "access_tokens": 0}
    gw.clock = lambda: real() + timedelta(seconds=gw.settings.token_seconds + 1)
    assert (await client_admin.purge_expired(gw)).as_dict() == {"assertion_jtis": 0, "access_tokens": 1}
    assert await _count(gw, AssertionJti) == 0 and await _count(gw, AccessToken) == 0


async def test_the_server_purges_on_its_own(gw: Gateway, parties: dict[str, ClientKey]) -> None:
    url = "http://gw.test/oauth2/token"
    await issue_token(gw, _form(client_assertion(parties["trust"], url)), token_url=url)
    real = gw.clock
    gw.clock = lambda: real() + timedelta(hours=2)
    purge = TokenPurge(gw, 0.01)
    try:
        async with asyncio.timeout(10):
            while await _count(gw, AccessToken) or await _count(gw, AssertionJti):
                await asyncio.sleep(0.01)
    finally:
        await purge.stop()


def test_clients_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    hgw = hgw_runner(database_url, tmp_path / "data")

    keys = hgw("clients", "keygen", "--out", str(tmp_path / "rba"))
    added = hgw("clients", "add", "--role", "trust", "--ods", "RBA", "--jwks", keys["jwks"])
    cid = added["client_id"]
    assert [(c["client_id"], c["active"]) for c in hgw("clients", "list")] == [(cid, True)]
    assert hgw("clients", "disable", cid)["active"] is False
    assert [c["active"] for c in hgw("clients", "list")] == [False]
    assert hgw("clients", "enable", cid)["active"] is True
    assert hgw("clients", "purge") == {"assertion_jtis": 0, "access_tokens": 0}
    assert hgw("clients", "remove", cid)["removed"] == cid
    assert hgw("clients", "list") == []
    assert hgw("clients", "disable", cid, code=1)["error"] == "RESOURCE_NOT_FOUND"


@pytest.mark.parametrize("mode", ["production", "test"])
def test_serve_refuses_to_start_without_a_base_url(mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HGW_BASE_URL", raising=False)
    monkeypatch.setenv("HGW_MODE", mode)
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "serve", "--port", "0"])
    assert result.exit_code != 0 and "HGW_BASE_URL" in result.output
    assert not (tmp_path / "hgw.sqlite3").exists()  # refused before anything was touched


@pytest.mark.parametrize("bad", ["gateway.example", "ftp://gateway.example", "https://gw.example/x?aud=y", "https://"])
def test_the_base_url_must_be_an_http_url(bad: str) -> None:
    from pydantic import ValidationError

    from gateway.settings import Settings

    with pytest.raises(ValidationError):
        Settings(base_url=bad)
    assert Settings(base_url="https://gw.example/hgw/").public_base_url == "https://gw.example/hgw"
