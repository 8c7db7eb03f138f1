"""The generic repository: rows by primary key, the ORM's unit of work (stage, flush, remove, reload), a conditional
update, and pages of rows with a sealed column. Functions take an open session; the caller owns the transaction.

All SQL the services need lives in `gateway.store`: this module, and one module per concept beside it
(`prescription_rows`, `outbox_queue`, `provider_rows`, `lifecycle_events`, `pull_batch`, `audit_log`, `console`, …).
Services open a session and a transaction and pass the session in; they never build a statement themselves
(`tests/unit/test_store_boundary.py` keeps it so).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession


async def get_by_id(session: AsyncSession, table: type[Any], key: Any) -> Any:
    return await session.get(table, key)


def save(session: AsyncSession, *rows: SQLModel) -> None:
    """Stage new or changed rows in the caller's transaction; they are written at the next flush or the commit."""
    session.add_all(rows)


async def save_now(session: AsyncSession, *rows: SQLModel) -> None:
    """Stage `rows` (if any) and write everything staged so far: generated ids are then set, and a constraint
    the writes break raises here rather than at the commit."""
    session.add_all(rows)
    await session.flush()


async def remove(session: AsyncSession, row: SQLModel) -> None:
    """Delete a loaded row in the caller's transaction."""
    await session.delete(row)


async def reload(session: AsyncSession, row: SQLModel) -> None:
    """Read a row's columns again from the database (what a concurrent writer or a trigger left)."""
    await session.refresh(row)


async def apply_update(session: AsyncSession, table: type[Any], key: Any, expect: dict[str, Any],
                       values: dict[str, Any]) -> bool:
    """UPDATE one row only if it still has the `expect`ed values; False when it changed meanwhile."""
    pk = next(iter(table.__table__.primary_key.columns))
    stmt = update(table).where(pk == key)
    for name, value in expect.items():
        stmt = stmt.where(getattr(table, name) == value)
    result = await session.exec(stmt.values(**values))
    return bool(result.rowcount == 1)


async def sealed_rows(session: AsyncSession, table: type[Any], after: str, limit: int) -> list[Any]:
    """A page of rows of a table with a sealed column, in primary-key order after `after`."""
    key = col(table.id)
    stmt = select(table).where(key > after).order_by(key).limit(limit)
    return list((await session.exec(stmt)).all())
