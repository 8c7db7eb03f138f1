"""Reads of the lifecycle-event timeline across prescriptions: the status feed's positions and a trust's events.

Functions take an open session; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.tables import (
    LifecycleEvent,
    Prescription,
)


async def event_positions(session: AsyncSession, *, after: int, limit: int) -> list[tuple[int, datetime]]:
    """Id and time of the next `limit` lifecycle events of every tenant after id `after` (the status feed's horizon)."""
    stmt = (
        select(col(LifecycleEvent.id), col(LifecycleEvent.at))
        .where(col(LifecycleEvent.id) > after)
        .order_by(col(LifecycleEvent.id))
        .limit(limit)
    )
    return [(event_id, at) for event_id, at in (await session.exec(stmt)).all() if event_id is not None]


async def event_exists(session: AsyncSession, event_id: int) -> bool:
    stmt = select(col(LifecycleEvent.id)).where(col(LifecycleEvent.id) == event_id)
    return (await session.exec(stmt)).first() is not None


async def trust_events(
    session: AsyncSession, *, trust_ods: str, after: int, upto: int, limit: int
) -> list[tuple[LifecycleEvent, Prescription, str | None]]:
    """A trust's lifecycle events with `after` < id <= `upto`, in id order, each with its prescription and the
    prescription's status after the event (the latest status recorded on its events up to this one).
    The prescription's sealed canonical form is never loaded."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import defer

    earlier = aliased(LifecycleEvent)
    status_after = (
        select(earlier.status)
        .where(
            earlier.prescription_id == LifecycleEvent.prescription_id,
            col(earlier.id) <= col(LifecycleEvent.id),
            col(earlier.status).is_not(None),
        )
        .order_by(col(earlier.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        select(LifecycleEvent, Prescription, status_after)
        .join(Prescription, col(Prescription.id) == col(LifecycleEvent.prescription_id))
        .where(
            Prescription.trust_ods == trust_ods,
            col(LifecycleEvent.id) > after,
            col(LifecycleEvent.id) <= upto,
        )
        .options(defer(inspect(Prescription).attrs["canonical_enc"].class_attribute, raiseload=True))
        .order_by(col(LifecycleEvent.id))
        .limit(limit)
    )
    return [(event, prescription, status) for event, prescription, status in (await session.exec(stmt)).all()]

