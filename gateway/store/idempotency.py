"""SQL for inbound idempotency records (gateway/intake/idempotency.py). The caller owns the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.tables import IdempotencyRecord


async def find(session: AsyncSession, client_id: str, key_sha256: str) -> IdempotencyRecord | None:
    stmt = select(IdempotencyRecord).where(
        IdempotencyRecord.client_id == client_id, IdempotencyRecord.key_sha256 == key_sha256
    )
    return (await session.exec(stmt)).first()


class KeyTaken(Exception):
    """Another request inserted a record for the same client and key first."""


async def insert(session: AsyncSession, record: IdempotencyRecord) -> None:
    """Add `record` now; `KeyTaken` when a concurrent request holds the same key (the transaction is spoilt)."""
    session.add(record)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise KeyTaken from exc


async def remove(session: AsyncSession, record_id: str) -> None:
    await session.exec(delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == record_id))


async def finish(session: AsyncSession, record_id: str, values: dict[str, Any]) -> bool:
    """Store the answer on a record still in progress; False when it is gone (purged, or taken over as stale)."""
    stmt = (
        update(IdempotencyRecord)
        .where(col(IdempotencyRecord.id) == record_id, col(IdempotencyRecord.state) == "in-progress")
        .values(**values)
    )
    result = await session.exec(stmt)
    return bool(result.rowcount == 1)


async def purge_expired(session: AsyncSession, now: datetime, limit: int) -> int:
    """Delete up to `limit` records that expired at or before `now`; returns how many went."""
    expired = (
        select(IdempotencyRecord.id).where(col(IdempotencyRecord.expires_at) <= now).limit(limit).scalar_subquery()
    )
    result = await session.exec(delete(IdempotencyRecord).where(col(IdempotencyRecord.id).in_(expired)))
    return int(result.rowcount or 0)
