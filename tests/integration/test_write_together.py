"""`together.write_together` on SQLite and PostgreSQL: inserts and updates of several tables land as written (NULLs,
timestamps, bytes), as one statement on PostgreSQL, all or nothing, and only through the tables' own column names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from gateway.context import Gateway
from gateway.store import repository, together
from gateway.store.tables import LifecycleEvent, Prescription
from tests.integration.test_bulk_insert import NOW, _prescription, save_payload

PRESCRIPTIONS = Prescription.__table__  # type: ignore[attr-defined]
EVENTS = LifecycleEvent.__table__  # type: ignore[attr-defined]
LATER = NOW + timedelta(hours=1)


async def _stored(gw: Gateway) -> None:
    async with gw.sessions() as session, session.begin():
        await save_payload(session)
        await together.write_together(
            await session.connection(), [together.Insert(PRESCRIPTIONS, [_prescription(n) for n in (1, 2, 3, 4)])]
        )


async def _all(session: Any, sql: str) -> list[Any]:
    return list((await (await session.connection()).execute(text(sql))).all())


def _event(prescription_id: str, kind: str) -> dict[str, Any]:
    return {"prescription_id": prescription_id, "at": LATER, "kind": kind, "status": None, "actor_ods": "VNFKT"}


async def test_inserts_and_updates_of_several_tables_land_as_written(bare_gw: Gateway) -> None:
    await _stored(bare_gw)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(bare_gw.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with bare_gw.sessions() as session, session.begin():
            await together.write_together(
                await session.connection(),
                [
                    # Two updates of one table with different columns, one setting a NULL.
                    together.Update(PRESCRIPTIONS, [{"id": "rx-1", "status": "0002", "updated_at": LATER}]),
                    together.Update(PRESCRIPTIONS, [{"id": "rx-2", "provider_ods": None, "status": "0005"},
                                                    {"id": "rx-3", "provider_ods": None, "status": "0006"}]),
                    together.Update(PRESCRIPTIONS, [{"id": "rx-missing", "status": "0002", "updated_at": LATER}]),
                    together.Insert(EVENTS, [_event("rx-1", "acknowledged"), _event("rx-2", "cancelled")]),
                    together.Insert(EVENTS, []),  # left out
                ],
            )
    finally:
        event.remove(bare_gw.engine.sync_engine, "before_cursor_execute", seen)
    writes = [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "SELECT"))]
    if bare_gw.is_sqlite:
        assert len(writes) == 4, writes  # one statement per write that has rows
    else:
        assert len(writes) == 1 and writes[0].startswith("WITH "), writes
    async with bare_gw.sessions() as session:
        stored = {n: await repository.get_by_id(session, Prescription, f"rx-{n}") for n in (1, 2, 3, 4)}
        events = await _all(session, "SELECT prescription_id, kind, at FROM lifecycle_event")
    assert (stored[1].status, stored[1].updated_at) == ("0002", LATER)
    assert (stored[2].status, stored[2].provider_ods, stored[2].updated_at) == ("0005", None, NOW)
    assert (stored[3].status, stored[3].provider_ods) == ("0006", None)
    assert (stored[4].status, stored[4].updated_at) == ("0001", NOW)  # untouched
    assert sorted((p, k) for p, k, _ in events) == [("rx-1", "acknowledged"), ("rx-2", "cancelled")]
    assert {datetime.fromisoformat(str(at)).astimezone(UTC) if isinstance(at, str) else at for *_, at in events} == {
        LATER
    }


async def test_a_failing_part_leaves_nothing_of_the_others(bare_gw: Gateway) -> None:
    await _stored(bare_gw)
    with pytest.raises(IntegrityError):
        async with bare_gw.sessions() as session, session.begin():
            await together.write_together(
                await session.connection(),
                [
                    together.Update(PRESCRIPTIONS, [{"id": "rx-1", "status": "0002"}]),
                    together.Insert(EVENTS, [_event("rx-1", "acknowledged")]),
                    together.Insert(PRESCRIPTIONS, [_prescription(2)]),  # its id is taken
                ],
            )
    async with bare_gw.sessions() as session:
        first = await repository.get_by_id(session, Prescription, "rx-1")
        events = (await _all(session, "SELECT count(*) FROM lifecycle_event"))[0][0]
    assert first is not None and first.status == "0001" and events == 0


async def test_only_the_tables_own_columns_make_the_statement(bare_gw: Gateway) -> None:
    await _stored(bare_gw)
    hostile = {"id": "rx-1", "status = 'x'; DROP TABLE prescription; --": "0002"}
    with pytest.raises(KeyError):
        async with bare_gw.sessions() as session, session.begin():
            await together.write_together(await session.connection(), [together.Update(PRESCRIPTIONS, [hostile])])
    async with bare_gw.sessions() as session:
        assert (await _all(session, "SELECT count(*) FROM prescription"))[0][0] == 4
