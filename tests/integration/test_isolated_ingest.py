"""Heavy exports handled in a process of their own (gateway/intake/isolated.py), on both databases.

Each test makes isolation certain by replacing the in-process handler with one that fails: whatever is stored and
answered came from the child process.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from gateway.budget import request_budget
from gateway.context import Gateway
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.errors import InputError
from gateway.intake import ingest, isolated
from gateway.intake.hl7_answers import HL7_MEDIA_TYPE, ack_for
from gateway.signing.bundle import verify_bundle
from gateway.store.sealed import message_context
from tests.integration.helpers import export
from tests.paths import DATA

TRUST = Principal("isolation-test", Role.TRUST, "RBA", frozenset(ROLE_SCOPES[Role.TRUST]))
HL7_ORDER = (DATA / "hl7v2" / "valid_order" / "input.hl7").read_bytes()  # one prescription from RHM
HL7_TRUST = Principal("isolation-test", Role.TRUST, "RHM", frozenset(ROLE_SCOPES[Role.TRUST]))


@pytest.fixture
def isolating(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    """`gw` isolating every export made during a request, with the in-process handler out of reach."""
    gw.settings = gw.settings.model_copy(update={"isolate_above_bytes": 0})

    async def not_here(*_args: object) -> None:
        raise AssertionError("handled in the serving process")

    monkeypatch.setattr(ingest, "handle", not_here)
    yield gw
    assert not multiprocessing.active_children()  # every child was waited for


async def _count(gw: Gateway, table: str) -> int:
    async with gw.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608


async def test_an_isolated_export_is_stored_signed_and_reported_like_any_other(isolating: Gateway) -> None:
    gw = isolating
    rows = export(30, seed=41).decode().split("\r\n")
    fields = rows[3].split(",")
    fields[rows[0].split(",").index("NHSNumber")] = "1234567890"  # fails the modulus 11 check
    rows[3] = ",".join(fields)
    with gw.outbox_signal.listen("VNFKT") as woken, request_budget(60):
        report = await ingest.ingest_export(gw, TRUST, "\r\n".join(rows).encode(), "text/csv")
        assert woken.is_set()  # the serving process's long-polls hear of the child's orders
    outcomes = [p.outcome for p in report.prescriptions]
    assert report.format == "jac" and report.outcome == "partially_accepted"
    assert outcomes.count("accepted") == 29 and outcomes[1] == "rejected", outcomes
    assert [(i.location.line, i.location.column) for i in report.prescriptions[1].issues] == [(4, "NHSNumber")]
    assert await _count(gw, "prescription") == 29
    assert await _count(gw, "outbox") == 29
    async with gw.engine.connect() as conn:
        message_id, body = (await conn.execute(text("SELECT id, body_enc FROM fhir_message LIMIT 1"))).one()
        created = text("SELECT count(*) FROM audit_pending WHERE action = 'prescription.create'")
        audit = (await conn.execute(created)).scalar()
        summary = (await conn.execute(text("SELECT outcome, summary FROM inbound_payload"))).one()
    bundle = json.loads(gw.cipher.open(body, context=message_context(message_id, "RBA")))
    assert gw.signing is not None and verify_bundle(bundle, gw.signing).ok  # signed with the gateway's own key
    assert audit == 1
    assert summary[0] == "partially_accepted" and "1234567890" not in summary[1]


async def test_an_isolated_hl7_message_is_answered_with_its_ack(isolating: Gateway) -> None:
    with request_budget(60):
        report = await ingest.ingest_export(isolating, HL7_TRUST, HL7_ORDER, HL7_MEDIA_TYPE)
    assert report.format == "hl7v2" and report.outcome == "accepted" and report.parsed is None
    ack = ack_for(isolating, report).decode()
    assert ack.startswith("MSH|") and ack.count("MSA|AA|MSG00001|") == 1, ack  # one message, one ACK
    assert await _count(isolating, "prescription") == 1


async def test_an_isolated_export_over_its_cpu_budget_stores_nothing(isolating: Gateway) -> None:
    """Over budget while parsing, the file is rejected (a located file issue); while planning, the request is."""
    with request_budget(0.01):
        try:
            report = await ingest.ingest_export(isolating, TRUST, export(300, seed=42), "text/csv")
            codes = [i.code for i in report.file_issues]
        except InputError as refused:
            codes = [i.code for i in refused.issues]
    assert codes == ["CPU_BUDGET_EXCEEDED"]
    assert await _count(isolating, "prescription") == 0 and await _count(isolating, "outbox") == 0


async def test_a_child_past_its_deadline_is_killed_and_stores_nothing(
    isolating: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(isolated, "WALL_FACTOR", 0.0)
    monkeypatch.setattr(isolated, "WALL_SLACK", 0.001)
    with request_budget(60), pytest.raises(InputError) as refused:
        await ingest.ingest_export(isolating, TRUST, export(300, seed=43), "text/csv")
    assert [(i.code, i.location.path) for i in refused.value.issues] == [("LIMIT_EXCEEDED", "body")]
    assert await _count(isolating, "prescription") == 0


async def test_a_cancelled_request_kills_its_child(isolating: Gateway) -> None:
    async def ingest_in_a_request() -> None:
        with request_budget(60):
            await ingest.ingest_export(isolating, TRUST, export(2000, seed=44), "text/csv")

    task = asyncio.create_task(ingest_in_a_request())
    async with asyncio.timeout(60):
        while not multiprocessing.active_children():
            await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not multiprocessing.active_children()
    assert await _count(isolating, "prescription") == 0


async def test_outside_a_request_nothing_is_isolated(gw: Gateway) -> None:
    gw.settings = gw.settings.model_copy(update={"isolate_above_bytes": 0})
    assert not isolated.wanted(gw, b"x" * 10)
    with request_budget(60):
        assert isolated.wanted(gw, b"x" * 10)
        gw.settings = gw.settings.model_copy(update={"isolate_above_bytes": 11})
        assert not isolated.wanted(gw, b"x" * 10)


async def test_a_daemonic_process_handles_exports_itself(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """A daemonic process may not start children: a server run as one handles heavy exports in its threads."""

    class Daemonic:
        daemon = True

    gw.settings = gw.settings.model_copy(update={"isolate_above_bytes": 0})
    monkeypatch.setattr(isolated.multiprocessing, "current_process", Daemonic)
    with request_budget(60):
        assert not isolated.wanted(gw, b"x" * 10)
