"""A large export planned by a pool of processes (gateway/intake/plan_pool.py), on both databases.

Each test sets the pool's threshold to one prescription and makes the worker-thread path fail, so that whatever is
stored came from the pool's workers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from gateway.budget import BudgetExceededError, request_budget
from gateway.context import Gateway
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.intake import handling, ingest, plan_pool
from gateway.signing.bundle import verify_bundle
from gateway.store.sealed import message_context
from gateway.store.tables import FhirMessage
from tests.integration.helpers import export

TRUST = Principal("pool-test", Role.TRUST, "RBA", frozenset(ROLE_SCOPES[Role.TRUST]))
TABLES = ("prescription", "prescription_item", "fhir_message", "outbox", "lifecycle_event")


@pytest.fixture
def pooled(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    """`gw` planning every export in a pool of two processes, the worker-thread planner out of reach."""
    gw.settings = gw.settings.model_copy(update={"ingest_workers": 2, "ingest_parallel_from": 1})

    async def not_in_a_thread(*_args: object) -> None:
        raise AssertionError("planned in a worker thread")

    monkeypatch.setattr(plan_pool, "offload", not_in_a_thread)
    yield gw


async def _counts(gw: Gateway) -> dict[str, int]:
    async with gw.engine.connect() as conn:
        return {t: int((await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()) for t in TABLES}  # noqa: S608


def _with_a_bad_nhs_number(payload: bytes, row: int) -> bytes:
    rows = payload.decode().split("\r\n")
    fields = rows[row].split(",")
    fields[rows[0].split(",").index("NHSNumber")] = "1234567890"  # fails the modulus 11 check
    rows[row] = ",".join(fields)
    return "\r\n".join(rows).encode()


async def test_a_pooled_export_is_stored_signed_and_reported_in_its_order(pooled: Gateway) -> None:
    gw = pooled
    payload = _with_a_bad_nhs_number(export(40, seed=43), 20)
    with gw.outbox_signal.listen("VNFKT") as woken:
        report = await ingest.ingest_export(gw, TRUST, payload, "text/csv")
    assert woken.is_set()
    outcomes = [p.outcome for p in report.prescriptions]
    rejected = [i for i, o in enumerate(outcomes) if o == "rejected"]
    assert outcomes.count("accepted") == 39 and len(rejected) == 1, outcomes
    # the outcomes follow the file, whichever worker planned each chunk
    assert [p.lines[0] for p in report.prescriptions] == sorted(p.lines[0] for p in report.prescriptions)
    assert report.prescriptions[rejected[0]].issues[0].location.column == "NHSNumber"
    counts = await _counts(gw)
    assert (counts["prescription"], counts["outbox"], counts["fhir_message"]) == (39, 39, 39)
    async with gw.engine.connect() as conn:
        created = text("SELECT count(*) FROM audit_pending WHERE action = 'prescription.create'")
        assert (await conn.execute(created)).scalar_one() == 1  # one audit entry for the export, in its transaction
        stored = (await conn.execute(text("SELECT id, body_enc FROM fhir_message"))).all()
    for message_id, body in stored:
        bundle = json.loads(gw.cipher.open(body, context=message_context(message_id, "RBA")))
        assert gw.signing is not None and verify_bundle(bundle, gw.signing).ok  # the worker signed with our key


async def test_a_resent_pooled_export_is_recognised_as_duplicates(pooled: Gateway) -> None:
    payload = export(12, seed=44)
    await ingest.ingest_export(pooled, TRUST, payload, "text/csv")
    again = await ingest.ingest_export(pooled, TRUST, payload, "text/csv")
    assert {p.outcome for p in again.prescriptions} == {"duplicate"}
    assert (await _counts(pooled))["prescription"] == 12


async def test_a_failure_in_a_later_chunk_leaves_nothing_of_the_earlier_ones(
    pooled: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_insert = handling.bulk.insert_rows
    written: list[int] = []

    async def failing(session: Any, table: Any, rows: Any) -> None:
        await real_insert(session, table, rows)
        if table is FhirMessage:
            written.append(len(rows))
            if len(written) == 3:  # two chunks are written by now
                raise RuntimeError("the database went away before the commit")

    monkeypatch.setattr(handling.bulk, "insert_rows", failing)
    with pytest.raises(RuntimeError, match="went away"):
        await ingest.ingest_export(pooled, TRUST, export(40, seed=45), "text/csv")
    assert len(written) == 3
    assert await _counts(pooled) == dict.fromkeys(TABLES, 0)


async def test_the_workers_cpu_counts_against_the_request_budget(pooled: Gateway) -> None:
    with request_budget(60) as budget:
        await ingest.ingest_export(pooled, TRUST, export(20, seed=46), "text/csv")
    assert budget.elsewhere > 0  # the workers' CPU time was charged
    assert budget.spent >= budget.elsewhere

    with request_budget(0.1) as small, pytest.raises(BudgetExceededError):
        await ingest.ingest_export(pooled, TRUST, export(100, seed=47), "text/csv")
    assert small.elsewhere > 0  # refused once the workers' CPU was charged (parsing 100 takes far less)
    assert (await _counts(pooled))["prescription"] == 20  # nothing of the refused export


async def test_an_isolated_export_is_planned_by_a_pool_of_its_own(
    pooled: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = pooled
    gw.settings = gw.settings.model_copy(update={"isolate_above_bytes": 0})

    async def not_here(*_args: object) -> None:
        raise AssertionError("handled in the serving process")

    monkeypatch.setattr(ingest, "handle", not_here)
    with request_budget(120) as budget:
        report = await ingest.ingest_export(gw, TRUST, export(30, seed=48), "text/csv")
    assert [p.outcome for p in report.prescriptions] == ["accepted"] * 30
    assert (await _counts(gw))["outbox"] == 30
    assert budget.spent > 0  # a daemonic child could start no pool: it would have failed
