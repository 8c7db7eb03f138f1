"""The operator services and the JSON operator API on both databases: sign-in, lockout, sessions, roles,
the overview, the message browser (NHS number through the blind index), masking, unmask audit, replay, pause."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlmodel import col, select

from gateway import audit
from gateway.audit.actor import OperatorActor
from gateway.audit.sequencer import sequence
from gateway.cli import cli
from gateway.context import Gateway
from gateway.delivery.breaker import BreakerBoard
from gateway.errors import AuthenticationError, ConflictError, ForbiddenError, InputError
from gateway.operations import admin, message_view, operators
from gateway.operations import overview as operations
from gateway.security.client_auth import ClientKey
from gateway.settings import Settings
from gateway.store.audit_tables import AuditRecord
from gateway.store.tables import OutboxEntry, Provider
from tests.integration.console_support import seed

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self, gw: Gateway) -> None:
        self.now = gw.clock()

    def __call__(self) -> Any:
        return self.now


async def _audit(gw: Gateway, action: str) -> list[AuditRecord]:
    await sequence(gw, wait=True)
    async with gw.sessions() as session:
        stmt = select(AuditRecord).where(AuditRecord.action == action).order_by(col(AuditRecord.seq))
        return list((await session.exec(stmt)).all())


async def test_sign_in_lockout_idle_expiry_and_sign_out(gw: Gateway) -> None:
    clock = Clock(gw)
    gw.clock = clock
    await operators.add_operator(gw, username="alice", role="operator", password=PASSWORD)
    with pytest.raises(InputError, match="too weak"):
        await operators.add_operator(gw, username="bob", role="viewer", password="short")
    with pytest.raises(ConflictError):
        await operators.add_operator(gw, username="Alice", role="viewer", password=PASSWORD)

    s = await operators.login(gw, "alice", PASSWORD)
    assert s.token and s.actor == OperatorActor("alice", "operator")
    live = await operators.session_for(gw, s.token)
    assert live is not None and live.csrf_token == s.csrf_token
    assert await operators.session_for(gw, "not-a-token") is None

    # Wrong passwords: the fifth locks the account, and then even the right one is refused until it runs out.
    for _ in range(gw.settings.console_max_failures):
        with pytest.raises(AuthenticationError):
            await operators.login(gw, "alice", "wrong password!")
    with pytest.raises(AuthenticationError):
        await operators.login(gw, "alice", PASSWORD)
    clock.now += timedelta(seconds=gw.settings.console_lockout_seconds + 1)
    again = await operators.login(gw, "alice", PASSWORD)
    with pytest.raises(AuthenticationError):
        await operators.login(gw, "nobody", PASSWORD)

    # Idle too long: the session is gone; sign-out ends the other one at once.
    clock.now += timedelta(seconds=gw.settings.console_idle_seconds + 1)
    assert await operators.session_for(gw, again.token) is None
    third = await operators.login(gw, "alice", PASSWORD)
    await operators.logout(gw, third.token)
    assert await operators.session_for(gw, third.token) is None

    logins = await _audit(gw, "operator.login")
    outcomes = [(r.entity_id, r.outcome) for r in logins]
    assert outcomes.count(("alice", "success")) == 3
    assert outcomes.count(("alice", "refused")) == gw.settings.console_max_failures + 1
    assert ("nobody", "refused") in outcomes
    reasons = [
        json.loads(r.event_json)["entity"][0]["detail"][0]["valueString"] for r in logins if r.outcome == "refused"
    ]
    assert "bad-password-locked" in reasons and "locked" in reasons and "unknown" in reasons
    assert [r.actor_client_id for r in await _audit(gw, "operator.logout")] == ["operator:alice"]
    # Nothing about the password is in the trail.
    assert all(PASSWORD not in r.event_json for r in logins)


async def test_disabling_an_operator_ends_their_sessions_and_admins_manage_operators(gw: Gateway) -> None:
    await operators.add_operator(gw, username="root", role="admin", password=PASSWORD)
    admin = OperatorActor("root", "admin")
    viewer = OperatorActor("vic", "viewer")
    await operators.add_operator(gw, username="vic", role="viewer", password=PASSWORD, actor=admin)
    s = await operators.login(gw, "vic", PASSWORD)
    with pytest.raises(ForbiddenError):
        await operators.add_operator(gw, username="eve", role="admin", password=PASSWORD, actor=viewer)
    with pytest.raises(ConflictError):
        await operators.update_operator(gw, "root", active=False, actor=admin)
    await operators.update_operator(gw, "vic", active=False, actor=admin)
    assert await operators.session_for(gw, s.token) is None
    with pytest.raises(AuthenticationError):
        await operators.login(gw, "vic", PASSWORD)
    listed = {o.username: o for o in await operators.list_operators(gw, admin)}
    assert listed["vic"].active is False and listed["root"].role == "admin"


async def test_role_matrix_masking_and_audited_unmask(gw: Gateway, trust: httpx.AsyncClient) -> None:
    seeded = await seed(gw, trust)
    mid = seeded.dead[0]
    viewer = OperatorActor("vic", "viewer")
    auditor = OperatorActor("aud", "auditor")
    operator = OperatorActor("ops", "operator")

    masked = await message_view.message_detail(gw, viewer, mid)
    row = seeded.rows[0]
    for secret in (row["NHSNumber"], row["Surname"], row["Forenames"]):
        assert secret not in masked["bundle"] and secret not in masked["raw_input"]["text"]
        assert secret not in json.dumps(masked["patient"])
    assert masked["masked"] is True and masked["patient"]["nhs_number"] == "•••"
    assert masked["raw_input"]["format"] and "bad-request" in [a["outcome"] for a in masked["delivery_attempts"]]
    assert masked["timeline"] and masked["prescription"]["short_form_id"]

    for who in (viewer, operator):
        with pytest.raises(ForbiddenError):
            await message_view.message_detail(gw, who, mid, unmask_reason="incident")
    with pytest.raises(ForbiddenError):
        await operations.replay(gw, viewer, message_id=mid, dry_run=True)
    with pytest.raises(ForbiddenError):
        await operations.set_paused(gw, viewer, "VNFKT", True)
    with pytest.raises(ForbiddenError):
        await operations.audit_trail(gw, operator)
    with pytest.raises(InputError, match="reason"):
        await message_view.message_detail(gw, auditor, mid, unmask_reason="curious")

    shown = await message_view.message_detail(gw, auditor, mid, unmask_reason="incident")
    nhs = row["NHSNumber"]
    assert shown["masked"] is False and shown["patient"]["nhs_number"] == f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"
    assert row["Surname"].upper() in shown["patient"]["name"] and nhs in shown["raw_input"]["text"]
    unmasks = await _audit(gw, "patient-data.unmask")
    assert len(unmasks) == 1 and unmasks[0].actor_client_id == "operator:aud" and unmasks[0].actor_role == "auditor"
    details = json.loads(unmasks[0].event_json)["entity"][0]["detail"]
    assert {d["type"]: d["valueString"] for d in details} == {"reason": "incident", "message": mid}
    assert nhs not in unmasks[0].event_json
    trail = await operations.audit_trail(gw, auditor)
    assert trail["records"][0]["action"] == "patient-data.unmask"
    assert (await audit.verify(gw)).ok  # operator records chain like every other


async def test_overview_counts_per_provider_and_trust(gw: Gateway, trust: httpx.AsyncClient) -> None:
    await seed(gw, trust, count=5, dead=2)
    viewer = OperatorActor("vic", "viewer")
    o = await operations.overview(gw, viewer)
    by_ods = {p["ods"]: p for p in o["providers"]}
    vnfkt = by_ods["VNFKT"]
    assert (vnfkt["received"], vnfkt["queued"], vnfkt["dead_lettered"], vnfkt["received_24h"]) == (5, 3, 2, 5)
    assert vnfkt["failure_rate"] == 40.0 and vnfkt["oldest_waiting_seconds"] is not None
    assert vnfkt["circuit"] == "n/a (pull)" and vnfkt["last_poll_at"] is None
    assert by_ods["VNCEL"]["received"] == 0

    # A push provider's circuit comes from the breakers this process's relays registered.
    endpoint = "https://push.invalid/FHIR/R4/$process-message"
    await admin.add_provider(gw, ods="VNPSH", name="Push Homecare", mode="push", endpoint=endpoint)
    board = BreakerBoard(gw.clock, failure_threshold=2)
    gw.telemetry.watch_breakers(board)
    circuit = {p["ods"]: p["circuit"] for p in (await operations.overview(gw, viewer))["providers"]}
    assert circuit == {"VNCEL": "n/a (pull)", "VNFKT": "n/a (pull)", "VNPSH": "closed"}
    board(endpoint).record_failure()
    board(endpoint).record_failure()
    assert {p["ods"]: p["circuit"] for p in (await operations.overview(gw, viewer))["providers"]}["VNPSH"] == "open"
    assert [(t["ods"], t["received"], t["prescriptions_received"]) for t in o["trusts"]] == [("RBA", 5, 5)]


async def test_ops_api_browse_search_detail_replay_pause(
    gw: Gateway, as_party: Callable[[str], httpx.AsyncClient], parties: dict[str, ClientKey]
) -> None:
    seeded = await seed(gw, as_party("trust"), count=4, dead=2)
    ops = as_party("operator")

    page = (await ops.get("/api/v1/ops/messages", params={"state": "dead", "provider": "VNFKT"})).json()
    assert page["total"] == 2 and {m["message_id"] for m in page["messages"]} == set(seeded.dead)
    by_error = (await ops.get("/api/v1/ops/messages", params={"error_class": "bad-request"})).json()
    assert by_error["total"] == 2 and "bad-request" in by_error["choices"]["error_classes"]
    assert (await ops.get("/api/v1/ops/messages", params={"trust": "RHM"})).json()["total"] == 0
    small = (await ops.get("/api/v1/ops/messages", params={"page_size": "25", "page": "2"})).json()
    assert small["total"] == 4 and small["messages"] == [] and small["pages"] == 1

    target = seeded.rows[2]
    found = (await ops.post("/api/v1/ops/messages/search", json={"nhs_number": target["NHSNumber"]})).json()
    assert [m["message_id"] for m in found["messages"]] == [seeded.messages[target["RxNumber"]]]
    assert "nhs_index" not in found
    spaced = f"{target['NHSNumber'][:3]} {target['NHSNumber'][3:6]} {target['NHSNumber'][6:]}"
    assert (await ops.post("/api/v1/ops/messages/search", json={"nhs_number": spaced})).json()["total"] == 1

    bad = await ops.post("/api/v1/ops/messages/search", json={"nhs_number": "1234567890"})
    assert bad.status_code == 400 and bad.json()["issues"][0]["column"] == "nhs_number"
    bad = await ops.get("/api/v1/ops/messages", params={"date_from": "yesterday"})
    assert bad.status_code == 400 and bad.json()["issues"][0]["column"] == "date_from"
    bad = await ops.post("/api/v1/ops/replay", json={"dry_run": "no"})
    assert bad.status_code == 400 and bad.json()["issues"][0]["expression"] == "dry_run"

    detail = (await ops.get(f"/api/v1/ops/messages/{seeded.dead[0]}")).json()
    assert detail["masked"] is True and seeded.rows[0]["NHSNumber"] not in json.dumps(detail)

    preview = (await ops.post("/api/v1/ops/replay", json={"provider": "VNFKT"})).json()
    assert preview["dry_run"] is True and {c["message_id"] for c in preview["would_replay"]} == set(seeded.dead)
    async with gw.sessions() as session:
        states = [r.state for r in (await session.exec(select(OutboxEntry))).all()]
    assert states.count("dead") == 2  # the preview changed nothing
    done = (await ops.post("/api/v1/ops/replay", json={"message_id": seeded.dead[0], "dry_run": False})).json()
    assert [c["message_id"] for c in done["replayed"]] == [seeded.dead[0]]
    again = await ops.post("/api/v1/ops/replay", json={"message_id": seeded.dead[0], "dry_run": False})
    assert again.status_code == 409

    dismissed = await ops.post(f"/api/v1/ops/messages/{seeded.dead[1]}/dismiss")
    assert dismissed.json() == {"message_id": seeded.dead[1], "state": "dismissed"}
    assert (await ops.post(f"/api/v1/ops/messages/{seeded.dead[1]}/dismiss")).status_code == 409

    assert (await ops.post("/api/v1/ops/providers/vnfkt/pause")).json()["paused"] is True
    async with gw.sessions() as session:
        assert (await session.get(Provider, "VNFKT")).paused is True  # type: ignore[union-attr]
    assert (await ops.post("/api/v1/ops/providers/VNFKT/resume")).json()["paused"] is False
    assert (await ops.post("/api/v1/ops/providers/NOPE/pause")).status_code == 404

    operator_id = parties["operator"].client_id
    assert [r.actor_client_id for r in await _audit(gw, "operator.pause")] == [operator_id]
    assert [r.actor_client_id for r in await _audit(gw, "operator.replay")] == [operator_id]
    assert [r.entity_id for r in await _audit(gw, "operator.dead-letter")] == [seeded.dead[1]]
    overview = (await ops.get("/api/v1/ops/overview")).json()
    assert {p["ods"] for p in overview["providers"]} == {"VNFKT", "VNCEL"}


async def test_other_roles_are_refused_by_the_ops_api(as_party: Callable[[str], httpx.AsyncClient]) -> None:
    for name in ("trust", "provider"):
        client = as_party(name)
        assert (await client.get("/api/v1/ops/overview")).status_code == 403
        assert (await client.post("/api/v1/ops/replay", json={"dry_run": True})).status_code == 403
    assert (await as_party("anonymous").get("/api/v1/ops/messages")).status_code == 401


def test_operators_add_and_messages_list_from_the_command_line(settings: Settings) -> None:
    from gateway.store.migrate import upgrade

    upgrade(settings.effective_database_url)
    env = {
        **os.environ,
        "HGW_DATA_DIR": str(settings.data_dir),
        "HGW_DATABASE_URL": settings.effective_database_url,
        "HGW_MODE": "test",
    }
    runner = CliRunner()
    added = runner.invoke(
        cli,
        ["operators", "add", "--username", "carol", "--role", "auditor", "--password-stdin"],
        input=f"{PASSWORD}\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["username"] == "carol" and PASSWORD not in added.output
    weak = runner.invoke(
        cli, ["operators", "add", "--username", "dan", "--role", "viewer", "--password-stdin"], input="x\n", env=env
    )
    assert weak.exit_code == 1 and json.loads(weak.output)["issues"][0]["column"] == "password"
    listed = runner.invoke(cli, ["operators", "list"], env=env)
    assert [o["username"] for o in json.loads(listed.output)] == ["carol"]
    messages = runner.invoke(cli, ["messages", "list", "--state", "dead"], env=env)
    assert messages.exit_code == 0 and json.loads(messages.output)["total"] == 0
    missing = runner.invoke(cli, ["queue", "dismiss", "0b7a0a51-0000-4000-8000-000000000000"], env=env)
    assert missing.exit_code == 1 and json.loads(missing.output)["error"] == "RESOURCE_NOT_FOUND"


async def test_console_forms_need_their_csrf_token_and_the_session_cookie_is_strict(gw: Gateway, base_url: str) -> None:
    await operators.add_operator(gw, username="otto", role="operator", password=PASSWORD)
    async with httpx.AsyncClient(base_url=base_url) as browser:
        form = await browser.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        assert "HttpOnly" in form.headers["set-cookie"] and "SameSite=strict" in form.headers["set-cookie"]
        # Without the matching cookie (a cross-site form), the sign-in is refused before the password is checked.
        async with httpx.AsyncClient(base_url=base_url) as stranger:
            forged = await stranger.post(
                "/console/login", data={"csrf_token": token, "username": "otto", "password": PASSWORD}
            )
        assert forged.status_code == 403 and "hgw_session" not in forged.headers.get("set-cookie", "")
        wrong = await browser.post("/console/login", data={"csrf_token": token, "username": "otto", "password": "x"})
        assert wrong.status_code == 401
        token = re.search(r'name="csrf_token" value="([^"]+)"', wrong.text).group(1)  # type: ignore[union-attr]
        signed_in = await browser.post(
            "/console/login", data={"csrf_token": token, "username": "otto", "password": PASSWORD}
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/console"
        cookie = next(c for c in signed_in.headers.get_list("set-cookie") if c.startswith("hgw_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # test mode: plain HTTP
        page = await browser.get("/console")
        assert page.status_code == 200 and "otto (operator)" in page.text
        # A POST form without the session's CSRF token does nothing.
        refused = await browser.post("/console/providers/VNFKT/pause", data={"csrf_token": "nope"})
        assert refused.status_code == 403
        async with gw.sessions() as session:
            assert (await session.get(Provider, "VNFKT")).paused is False  # type: ignore[union-attr]
        # Static files are served by the gateway itself.
        css = await browser.get("/console/static/console.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert (await browser.get("/console/static/..%2Fpages.py")).status_code == 404


def test_the_session_cookie_is_secure_outside_test_and_demo(tmp_path: Any) -> None:
    from types import SimpleNamespace

    from starlette.responses import Response

    from gateway.console.session import set_session_cookie

    for mode, secure in (("production", True), ("demo", False), ("test", False)):
        response = Response()
        gw = SimpleNamespace(settings=Settings(data_dir=tmp_path, mode=mode))
        set_session_cookie(response, gw, "token", 60)  # type: ignore[arg-type]
        assert ("Secure" in response.headers["set-cookie"]) is secure
