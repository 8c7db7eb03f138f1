"""SQL for the audit trail: appending pending entries, the sequencer's batches and turn, signed heads, and the
pages `hgw audit verify` walks. Functions take an open session or connection; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store import bulk
from gateway.store.audit_tables import GENESIS_HASH, AuditEntity, AuditHead, AuditPending, AuditRecord

# pg_try_advisory_xact_lock key: the bytes of "hgwaudit" read as a (positive) 64-bit integer.
SEQUENCER_LOCK_KEY: Final = int.from_bytes(b"hgwaudit", "big")


async def append_pending(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `audit_pending` rows (all with the same keys) in the caller's transaction, with one statement."""
    await bulk.insert_many(await session.connection(), AuditPending.__table__, rows)  # type: ignore[attr-defined]


async def take_sequencer_turn(session: AsyncSession, *, wait: bool) -> bool:
    """Whether this transaction is the one sequencer (PostgreSQL: the advisory lock, held to commit; `wait`: wait
    for it rather than give up). SQLite's `BEGIN IMMEDIATE` serialises sequencers already."""
    if (await session.connection()).dialect.name != "postgresql":
        return True
    if wait:
        await session.exec(select(func.pg_advisory_xact_lock(SEQUENCER_LOCK_KEY)))
        return True
    return bool((await session.exec(select(func.pg_try_advisory_xact_lock(SEQUENCER_LOCK_KEY)))).one())


async def chain_end(session: AsyncSession) -> tuple[int, str]:
    """The seq and hash of the newest chained record ((0, GENESIS_HASH) for an empty chain)."""
    last = (
        await session.exec(select(AuditRecord.seq, AuditRecord.hash).order_by(col(AuditRecord.seq).desc()).limit(1))
    ).first()
    return (0, GENESIS_HASH) if last is None else (last[0], last[1])


async def oldest_pending(session: AsyncSession, limit: int) -> list[AuditPending]:
    """Up to `limit` committed pending entries, in the order they were appended."""
    return list((await session.exec(select(AuditPending).order_by(col(AuditPending.id)).limit(limit))).all())


async def chain_batch(
    session: AsyncSession,
    records: Sequence[dict[str, Any]],
    index: Sequence[dict[str, Any]],
    pending_ids: Sequence[int | None],
) -> None:
    """Insert a batch of chained records and their entity index, and delete the pending entries they came from."""
    connection = await session.connection()
    await bulk.insert_many(connection, AuditRecord.__table__, records)  # type: ignore[attr-defined]
    await bulk.insert_many(connection, AuditEntity.__table__, index)  # type: ignore[attr-defined]
    await session.exec(delete(AuditPending).where(col(AuditPending.id).in_(list(pending_ids))))


async def newest_head(session: AsyncSession) -> AuditHead | None:
    return (await session.exec(select(AuditHead).order_by(col(AuditHead.seq).desc()).limit(1))).first()


def add_head(session: AsyncSession, head: AuditHead) -> None:
    session.add(head)


async def pending_backlog(session: AsyncSession) -> tuple[int, datetime | None]:
    """How many entries wait to be chained, and when the oldest was appended."""
    count, oldest = (await session.exec(select(func.count(), func.min(AuditPending.at)))).one()
    return int(count), oldest


async def oldest_pending_at(session: AsyncSession) -> datetime | None:
    """When the oldest entry still waiting for the sequencer was appended (None: none waits)."""
    return (await session.exec(select(func.min(AuditPending.at)))).one()


async def records_after(conn: AsyncConnection, after: int | None, limit: int) -> list[AuditRecord]:
    """Up to `limit` chained records in seq order, after seq `after` (None: from the start)."""
    query = select(AuditRecord).order_by(col(AuditRecord.seq)).limit(limit)
    if after is not None:
        query = query.where(col(AuditRecord.seq) > after)
    return [AuditRecord(**row._mapping) for row in (await conn.execute(query)).all()]


async def heads_between(conn: AsyncConnection, after: int | None, through: int | None) -> dict[int, AuditHead]:
    """The signed heads by seq, for seq after `after` up to `through` (None: no end)."""
    query = select(AuditHead)
    if after is not None:
        query = query.where(col(AuditHead.seq) > after)
    if through is not None:
        query = query.where(col(AuditHead.seq) <= through)
    return {row.seq: AuditHead(**row._mapping) for row in (await conn.execute(query)).all()}


async def entities_between(conn: AsyncConnection, after: int | None, through: int | None) -> dict[int, set[str]]:
    """The entity ids `audit_entity` holds per seq, for seq after `after` up to `through` (None: no end)."""
    query = select(AuditEntity.seq, AuditEntity.entity_id)
    if after is not None:
        query = query.where(col(AuditEntity.seq) > after)
    if through is not None:
        query = query.where(col(AuditEntity.seq) <= through)
    found: dict[int, set[str]] = {}
    for seq, entity_id in (await conn.execute(query)).all():
        found.setdefault(seq, set()).add(entity_id)
    return found
