"""Reading the overview's running tallies (`gateway.store.tally_tables`, kept by migration 0023's triggers): the
deltas summed per group, after folding them into one row per group.

Folding is one statement on PostgreSQL (the deleted deltas feed the insert of their sums, under one snapshot, so a
delta committed meanwhile is neither lost nor counted twice, and two folds at once stay exact); on SQLite, where a
transaction is serialisable, a select, a delete and an insert in one transaction. It runs in its own transaction
before the overview reads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.tally_tables import OutboxTally, PrescriptionTally

_GROUPS = {"outbox_tally": "provider_ods, trust_ods, state", "prescription_tally": "provider_ods, trust_ods"}


async def compact(session: AsyncSession) -> None:
    """Fold each tally's deltas into one row per group (groups summing to zero go)."""
    postgres = _dialect(session) == "postgresql"
    conn = await session.connection()
    for table, groups in _GROUPS.items():
        if postgres:
            await conn.execute(
                text(
                    f"WITH gone AS (DELETE FROM {table} RETURNING {groups}, n)"  # noqa: S608 - constant names
                    f" INSERT INTO {table} ({groups}, n) SELECT {groups}, sum(n) FROM gone"
                    f" GROUP BY {groups} HAVING sum(n) <> 0"
                )
            )
            continue
        last = (await conn.execute(text(f"SELECT max(id) FROM {table}"))).scalar()  # noqa: S608
        if last is None:
            continue
        await conn.execute(
            text(
                f"INSERT INTO {table} ({groups}, n) SELECT {groups}, sum(n) FROM {table}"  # noqa: S608
                f" WHERE id <= :last GROUP BY {groups} HAVING sum(n) <> 0"
            ),
            {"last": last},
        )
        await conn.execute(text(f"DELETE FROM {table} WHERE id <= :last"), {"last": last})  # noqa: S608


async def one_snapshot(session: AsyncSession) -> None:
    """Make the session's reads see one snapshot (PostgreSQL: REPEATABLE READ; a SQLite transaction already does)."""
    if _dialect(session) == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _dialect(session: AsyncSession) -> str:
    bind: Any = session.bind
    return str(bind.dialect.name)


async def outbox_counts(session: AsyncSession) -> list[tuple[str, str, str, int]]:
    """(provider, trust, state, messages) of every group with messages."""
    t: Any = OutboxTally
    stmt = (
        select(t.provider_ods, t.trust_ods, t.state, func.sum(t.n))
        .group_by(t.provider_ods, t.trust_ods, t.state)
        .having(func.sum(t.n) != 0)
    )
    return [(str(p), str(tr), str(s), int(n)) for p, tr, s, n in (await session.exec(stmt)).all()]


async def prescription_counts(session: AsyncSession) -> list[tuple[str | None, str, int]]:
    """(provider or None for held, trust, prescriptions) of every group with prescriptions."""
    t: Any = PrescriptionTally
    stmt = (
        select(t.provider_ods, t.trust_ods, func.sum(t.n))
        .group_by(col(t.provider_ods), t.trust_ods)
        .having(func.sum(t.n) != 0)
    )
    return [(p, str(tr), int(n)) for p, tr, n in (await session.exec(stmt)).all()]
