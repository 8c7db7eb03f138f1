"""One prescription's timeline events commit in the order of their ids (PostgreSQL: migration 0021's trigger), so
the webhook relay, which delivers a prescription's events in id order, never delivers them out of order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from gateway.context import Gateway
from gateway.intake.ingest import ingest_export
from gateway.store import prescription_rows
from tests.integration.helpers import export
from tests.integration.test_isolated_ingest import TRUST

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

INSERT = text(
    "INSERT INTO lifecycle_event (prescription_id, at, kind, actor_ods, detail) "
    "VALUES (:p, :at, 'note', NULL, 'test') RETURNING id"
)


async def _prescription(gw: Gateway) -> str:
    report = await ingest_export(gw, TRUST, export(1, seed=61), "text/csv")
    assert report.outcome == "accepted", report.as_dict()
    async with gw.engine.connect() as conn:
        return str((await conn.execute(text("SELECT id FROM prescription"))).scalar_one())


async def test_a_second_writer_of_a_prescription_s_events_waits_for_the_first_to_commit(gw: Gateway) -> None:
    pid = await _prescription(gw)
    at = datetime.now(UTC)
    async with gw.engine.connect() as first, gw.engine.connect() as second:
        await first.begin()
        first_id = (await first.execute(INSERT, {"p": pid, "at": at})).scalar_one()
        await second.begin()
        waiting = asyncio.create_task(second.execute(INSERT, {"p": pid, "at": at}))
        done, _ = await asyncio.wait([waiting], timeout=0.5)
        assert not done  # it waits for the prescription's lock, held until the first commits
        await first.commit()
        second_id = (await waiting).scalar_one()
        await second.commit()
    assert second_id > first_id


async def test_a_watcher_skips_prescriptions_another_transaction_holds(gw: Gateway) -> None:
    pid = await _prescription(gw)
    async with gw.engine.connect() as holder:
        await holder.begin()
        await holder.execute(text("SELECT 1 FROM prescription WHERE id = :p FOR UPDATE"), {"p": pid})
        async with gw.sessions() as session, session.begin():
            skipped = await prescription_rows.lock_for_events(session, [pid], postgres=True, skip_locked=True)
        await holder.rollback()
    async with gw.sessions() as session, session.begin():
        free = await prescription_rows.lock_for_events(session, [pid], postgres=True, skip_locked=True)
    assert (skipped, free) == (set(), {pid})
