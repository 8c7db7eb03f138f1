"""The console overview's running tallies (migration 0023's triggers, `gateway.store.tallies`) always equal the counts
computed from the rows themselves, whatever writes happen, on SQLite and PostgreSQL: random inserts, multi-row
state changes, re-routings, holds, updates that change nothing counted, deletes, and folds in between."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store import tallies
from gateway.store.tables import FhirMessage, InboundPayload, OutboxEntry, Prescription
from gateway.store.tally_tables import OutboxTally

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
PROVIDERS = ("PA", "PB", None)
TRUSTS = ("T1", "T2")
STATES = ("queued", "leased", "acknowledged", "rejected", "cancelled", "dead")
OB: Any = OutboxEntry.__table__  # type: ignore[attr-defined]
P: Any = Prescription.__table__  # type: ignore[attr-defined]
M: Any = FhirMessage.__table__  # type: ignore[attr-defined]
IN: Any = InboundPayload.__table__  # type: ignore[attr-defined]

pick = st.integers(0, 1_000)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 3), st.sampled_from(PROVIDERS), st.sampled_from(TRUSTS)),
        st.tuples(st.just("state"), pick, st.integers(1, 4), st.sampled_from(STATES)),
        st.tuples(st.just("reroute"), pick, st.integers(1, 3), st.sampled_from(PROVIDERS[:2])),
        st.tuples(st.just("hold"), pick, st.integers(1, 2)),
        st.tuples(st.just("touch"), pick, st.integers(1, 4)),
        st.tuples(st.just("delete"), pick, st.integers(1, 2)),
        st.tuples(st.just("compact")),
    ),
    max_size=25,
)


async def _x(session: AsyncSession, stmt: Any, rows: Any = None) -> Any:
    """Core statements on the session's connection (the session's own `execute` is for ORM objects)."""
    conn = await session.connection()
    return await (conn.execute(stmt) if rows is None else conn.execute(stmt, rows))


async def _chosen(session: AsyncSession, table: Any, start: int, count: int) -> list[Any]:
    ids = sorted((await _x(session, select(table.c.id))).scalars().all())
    return [ids[(start + k) % len(ids)] for k in range(min(count, len(ids)))] if ids else []


async def _add(session: AsyncSession, n: int, provider: str | None, trust: str) -> None:
    inbound = str(uuid.uuid4())
    await _x(session, 
        insert(IN).values(id=inbound, format="jac", content_type="text/csv", sha256="0" * 64, size=1, body_enc=b"x",
                         received_at=NOW, outcome="accepted")
    )
    rows, orders, messages = [], [], []
    for _ in range(n):
        rx, msg = str(uuid.uuid4()), str(uuid.uuid4())
        rows.append(dict(id=rx, short_form_id=rx[:20], trust_ods=trust, rx_number=rx[:20], rx_version=1,
                         action="NEW", status="0001", provider_ods=provider, nhs_index="i", canonical_enc=b"x",
                         content_sha256="0" * 64, inbound_id=inbound, deliveries_authorised=1, deliveries_made=0,
                         created_at=NOW, updated_at=NOW))
        if provider is not None:
            messages.append(dict(id=msg, direction="out", event="prescription-order", prescription_id=rx,
                                 body_enc=b"x", created_at=NOW))
            orders.append(dict(message_id=msg, prescription_id=rx, order_key=rx, provider_ods=provider,
                               state="queued", available_at=NOW, lease_token=0, attempts=0, created_at=NOW))
    await _x(session, insert(P), rows)  # several rows in one statement
    if orders:
        await _x(session, insert(M), messages)
        await _x(session, insert(OB), orders)


async def _apply(session: AsyncSession, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "add":
        await _add(session, *op[1:])
    elif kind == "state":
        chosen = await _chosen(session, OB, op[1], op[2])
        await _x(session, update(OB).where(OB.c.id.in_(chosen)).values(state=op[3]))
    elif kind == "reroute":
        chosen = await _chosen(session, OB, op[1], op[2])
        rxs = select(OB.c.prescription_id).where(OB.c.id.in_(chosen)).scalar_subquery()
        await _x(session, update(OB).where(OB.c.id.in_(chosen)).values(provider_ods=op[3]))
        await _x(session, update(P).where(P.c.id.in_(rxs)).values(provider_ods=op[3]))
    elif kind == "hold":
        chosen = await _chosen(session, P, op[1], op[2])
        await _x(session, update(P).where(P.c.id.in_(chosen)).values(provider_ods=None))
    elif kind == "touch":  # what a lease or an attempt does besides the state: counts nothing
        chosen = await _chosen(session, OB, op[1], op[2])
        await _x(session, update(OB).where(OB.c.id.in_(chosen)).values(attempts=OB.c.attempts + 1))
        await _x(session, update(P).where(P.c.id.in_(select(OB.c.prescription_id))).values(status="0002"))
    elif kind == "delete":
        chosen = await _chosen(session, OB, op[1], op[2])
        await _x(session, delete(OB).where(OB.c.id.in_(chosen)))
    else:
        await tallies.compact(session)


async def _raw(session: AsyncSession) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    joined = select(OB.c.provider_ods, P.c.trust_ods, OB.c.state, func.count()).join(P, P.c.id == OB.c.prescription_id)
    outbox = Counter({(p, t, s): n for p, t, s, n in (await _x(session, 
        joined.group_by(OB.c.provider_ods, P.c.trust_ods, OB.c.state))).all()})
    stmt = select(P.c.provider_ods, P.c.trust_ods, func.count()).group_by(P.c.provider_ods, P.c.trust_ods)
    return outbox, Counter({(p, t): n for p, t, n in (await _x(session, stmt)).all()})


async def _tallied(session: AsyncSession) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    outbox = Counter({(p, t, s): n for p, t, s, n in await tallies.outbox_counts(session)})
    return outbox, Counter({(p, t): n for p, t, n in await tallies.prescription_counts(session)})


async def _run(url: str, steps: list[tuple[Any, ...]]) -> None:
    engine = create_async_engine(url)
    try:
        for op in steps:  # each write in its own transaction, as the gateway's writers do
            async with AsyncSession(engine) as session, session.begin():
                await _apply(session, op)
        async with AsyncSession(engine) as session:
            assert await _tallied(session) == await _raw(session)
        async with AsyncSession(engine) as session, session.begin():
            await tallies.compact(session)
        async with AsyncSession(engine) as session, session.begin():
            assert await _tallied(session) == await _raw(session)
            for table in (OB, M, P, IN):  # leave the database empty for the next example: the deletes count too
                await _x(session, delete(table))
        async with AsyncSession(engine) as session, session.begin():
            await tallies.compact(session)
            assert await _tallied(session) == (Counter(), Counter())
            assert (await _x(session, select(func.count()).select_from(OutboxTally))).scalar() == 0
    finally:
        await engine.dispose()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops)
def test_the_tallies_equal_the_counts_of_the_rows(database_url: str, steps: list[tuple[Any, ...]]) -> None:
    asyncio.run(_run(database_url, steps))
