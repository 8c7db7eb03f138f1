"""The operator API for providers and routing rules, over real HTTP on SQLite and PostgreSQL: operators only,
every problem located, every change audited, and a rule edited here routes the next export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from conformance.parties import provider_messages as msg
from gateway.audit import AuditRecord
from gateway.audit.sequencer import sequence
from gateway.context import Gateway
from tests.integration.helpers import export, hgw_runner, passed_prescriptions, post_export

ADMIN = "/api/v1/admin"


def _paths(r: httpx.Response) -> list[tuple[str, str | None]]:
    return [(i["code"], i.get("expression")) for i in r.json()["issues"]]


async def _config_changes(gw: Gateway) -> list[AuditRecord]:
    await sequence(gw, wait=True)  # the entries committed so far, chained
    async with gw.sessions() as session:
        stmt = select(AuditRecord).where(AuditRecord.action == "configuration.change").order_by(col(AuditRecord.seq))
        return list((await session.exec(stmt)).all())


@pytest.fixture
def operator(as_party: Any) -> httpx.AsyncClient:
    client: httpx.AsyncClient = as_party("operator")
    return client


async def test_providers_listed_created_and_updated_by_operators_only(
    gw: Gateway,
    operator: httpx.AsyncClient,
    trust: httpx.AsyncClient,
    provider: httpx.AsyncClient,
    anon: httpx.AsyncClient,
) -> None:
    listed = (await operator.get(f"{ADMIN}/providers")).json()["providers"]
    assert [p["ods"] for p in listed] == ["VNCEL", "VNFKT"] and listed[0]["mode"] == "pull"
    new = {"ods": "vnpsh", "name": "Push Homecare", "mode": "push", "endpoint": "https://push.example/FHIR/R4"}
    r = await operator.post(f"{ADMIN}/providers", json=new)
    assert r.status_code == 201, r.text
    assert (r.json()["ods"], r.json()["active"], r.json()["paused"]) == ("VNPSH", True, False)
    assert (await operator.post(f"{ADMIN}/providers", json=new)).status_code == 409
    # Bad input: every problem located on its JSON field; nothing stored.
    r = await operator.post(f"{ADMIN}/providers", json={"ods": "x!", "name": " ", "mode": "push"})
    assert r.status_code == 400
    assert _paths(r) == [("INVALID_ODS_CODE", "ods"), ("INVALID_VALUE", "name"), ("MISSING_VALUE", "endpoint")]
    r = await operator.post(f"{ADMIN}/providers", json={"ods": "VNX", "mode": "fax", "colour": "red"})
    assert r.status_code == 400 and {p for _, p in _paths(r)} == {"name", "mode", "colour"}
    assert (await operator.post(f"{ADMIN}/providers", content=b"{", headers={"Content-Type": "application/json"})
            ).json()["issues"][0]["code"] == "INVALID_JSON"
    # Updates: only what is given changes; a push provider needs an endpoint.
    r = await operator.patch(f"{ADMIN}/providers/VNPSH", json={"name": "Push Homecare Ltd", "active": False})
    assert (r.json()["name"], r.json()["active"], r.json()["endpoint"]) == (
        "Push Homecare Ltd", False, "https://push.example/FHIR/R4"
    )
    r = await operator.patch(f"{ADMIN}/providers/VNPSH", json={"endpoint": None})
    assert r.status_code == 400 and _paths(r) == [("MISSING_VALUE", "endpoint")]
    r = await operator.patch(f"{ADMIN}/providers/VNPSH", json={"mode": "pull", "endpoint": None})
    assert (r.json()["mode"], r.json()["endpoint"]) == ("pull", None)
    r = await operator.patch(f"{ADMIN}/providers/VNPSH", json={"endpoint": "ftp://x"})
    assert _paths(r) == [("INVALID_VALUE", "endpoint")]
    assert (await operator.patch(f"{ADMIN}/providers/NOPE1", json={"name": "x"})).status_code == 404
    assert (await operator.post(f"{ADMIN}/providers/VNPSH/pause")).json()["paused"] is True
    assert (await operator.post(f"{ADMIN}/providers/VNPSH/resume")).json()["paused"] is False
    # Not for trusts, providers or anyone unauthenticated.
    for client, status in ((trust, 403), (provider, 403), (anon, 401)):
        assert (await client.get(f"{ADMIN}/providers")).status_code == status
        assert (await client.post(f"{ADMIN}/providers", json={**new, "ods": "VNZZZ"})).status_code == status
        assert (await client.patch(f"{ADMIN}/providers/VNFKT", json={"active": False})).status_code == status
    assert (await operator.get(f"{ADMIN}/providers")).json()["providers"][1]["ods"] == "VNFKT"
    # Audited, naming the operator client.
    changes = [r for r in await _config_changes(gw) if r.actor_role == "operator"]
    assert [(r.entity_id, r.actor_ods) for r in changes] == [("VNPSH", "X26")] * 3
    assert "provider-updated" in changes[1].event_json and "name,active" in changes[1].event_json


async def test_routing_rules_edited_over_the_api_route_the_next_export(
    gw: Gateway, operator: httpx.AsyncClient, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    [default] = (await operator.get(f"{ADMIN}/routes")).json()["routes"]
    assert (default["provider_ods"], default["trust_ods"]) == ("VNFKT", None)
    rule = {"provider_ods": "VNCEL", "trust_ods": "rba", "priority": 10}
    r = await operator.post(f"{ADMIN}/routes", json=rule)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["trust_ods"], created["priority"]) == ("RBA", 10)
    routed = (await post_export(trust, export(1, seed=71))).json()["prescriptions"][0]
    assert routed["provider_ods"] == "VNCEL"
    # Narrow it to a product this export does not have: the default route takes over again.
    r = await operator.patch(f"{ADMIN}/routes/{created['id']}", json={"dmd_code": "39732311000001104"})
    assert r.status_code == 200 and r.json()["dmd_code"] == "39732311000001104"
    assert (await post_export(trust, export(1, seed=72))).json()["prescriptions"][0]["provider_ods"] == "VNFKT"
    r = await operator.patch(f"{ADMIN}/routes/{created['id']}", json={"dmd_code": None, "provider_ods": "VNFKT"})
    assert (r.json()["dmd_code"], r.json()["provider_ods"]) == (None, "VNFKT")
    # Bad rules are refused, located.
    r = await operator.post(f"{ADMIN}/routes", json={"provider_ods": "VNXXX", "dmd_code": "abc", "service_type": "X"})
    assert r.status_code == 400 and _paths(r) == [("INVALID_VALUE", "dmd_code"), ("INVALID_VALUE", "service_type")]
    r = await operator.post(f"{ADMIN}/routes", json={"provider_ods": "VNXXX"})
    assert _paths(r) == [("UNKNOWN_PROVIDER", "provider_ods")]
    r = await operator.post(f"{ADMIN}/routes", json={"provider_ods": "VNCEL", "priority": "high"})
    assert _paths(r) == [("INVALID_VALUE", "priority")]
    assert (await provider.delete(f"{ADMIN}/routes/{created['id']}")).status_code == 403
    assert (await operator.delete(f"{ADMIN}/routes/{created['id']}")).status_code == 204
    assert (await operator.delete(f"{ADMIN}/routes/{created['id']}")).status_code == 404
    assert [r["id"] for r in (await operator.get(f"{ADMIN}/routes")).json()["routes"]] == [default["id"]]
    changes = [r.event_json for r in await _config_changes(gw) if r.actor_role == "operator"]
    assert [next(c for c in ("route-added", "route-updated", "route-removed") if c in j) for j in changes] == [
        "route-added", "route-updated", "route-updated", "route-removed"
    ]


def test_cli_updates_providers_and_edits_and_removes_routes(database_url: str, tmp_path: Path) -> None:
    hgw = hgw_runner(database_url, tmp_path / "data")

    hgw("providers", "add", "--ods", "VNFKT", "--name", "Five Star", "--mode", "pull")
    rule = hgw("routes", "add", "--provider", "VNFKT", "--trust", "RBA")
    updated = hgw("providers", "update", "VNFKT", "--name", "Five Star Leeds", "--inactive")
    assert (updated["name"], updated["active"]) == ("Five Star Leeds", False)
    failed = hgw("providers", "update", "VNFKT", "--mode", "push", code=1)
    assert failed["issues"][0]["column"] == "--endpoint"
    edited = hgw("routes", "update", str(rule["id"]), "--trust", "", "--priority", "5")
    assert (edited["trust_ods"], edited["priority"]) == (None, 5)
    assert hgw("routes", "remove", str(rule["id"])) == {"removed": rule["id"], "provider_ods": "VNFKT"}
    assert hgw("routes", "list") == []
    assert hgw("routes", "remove", str(rule["id"]), code=1)["error"] == "RESOURCE_NOT_FOUND"
    assert hgw("routes", "remove", str(2**40), code=1)["error"] == "RESOURCE_NOT_FOUND"  # not a 32-bit id
    assert hgw("routes", "route-held") == {"routed": []}


async def test_a_paused_pull_provider_releases_nothing_until_resumed(
    gw: Gateway, operator: httpx.AsyncClient, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    release = {"json": msg.release_request("VNFKT"), "headers": {"Content-Type": "application/fhir+json"}}

    def passed(r: httpx.Response) -> int:
        return len(passed_prescriptions(r))

    assert (await operator.post(f"{ADMIN}/providers/VNFKT/pause")).status_code == 200
    assert (await post_export(trust, export(2))).status_code == 200
    assert passed(await provider.post("/FHIR/R4/Task/$release", **release)) == 0  # held: the orders stay queued
    assert (await operator.post(f"{ADMIN}/providers/VNFKT/resume")).status_code == 200
    assert passed(await provider.post("/FHIR/R4/Task/$release", **release)) == 2


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_pause_waits_for_releases_in_flight_while_releases_do_not_wait_for_each_other(
    gw: Gateway, trust: httpx.AsyncClient
) -> None:
    """`$release` holds the provider's lock shared until it commits; a pause takes it exclusive (PostgreSQL)."""
    import asyncio

    from gateway.delivery import release
    from gateway.delivery.queue import set_paused
    from gateway.domain.principal import ROLE_SCOPES, Principal, Role
    from gateway.store import provider_rows

    provider = Principal("p", Role.PROVIDER, "VNFKT", frozenset(ROLE_SCOPES[Role.PROVIDER]))
    assert (await post_export(trust, export(2))).status_code == 200
    async with gw.sessions() as in_flight, in_flight.begin():
        await provider_rows.hold_provider(in_flight, "VNFKT", exclusive=False)  # a release that has not committed
        leased = await asyncio.wait_for(release.release_orders(gw, provider, max_count=1), 10)
        assert len(leased.orders) == 1  # another release went ahead meanwhile
        pause = asyncio.create_task(set_paused(gw, "VNFKT", True))
        await asyncio.sleep(0.5)
        assert not pause.done()  # the pause waits for the release in flight
    assert (await asyncio.wait_for(pause, 10)).paused
    assert (await release.release_orders(gw, provider)).orders == []  # and every release after it sees it
