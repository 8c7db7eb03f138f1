"""The outbox as a queue: deliverable orders in order-key order, leases, messages, listings and attempts.

Functions take an open session; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain.outbox import WAITING, OutboxState
from gateway.store.tables import (
    DeliveryAttempt,
    FhirMessage,
    OutboxEntry,
    Prescription,
)


async def outbox_for_prescription(session: AsyncSession, prescription_id: str) -> list[OutboxEntry]:
    stmt = select(OutboxEntry).where(OutboxEntry.prescription_id == prescription_id).order_by(col(OutboxEntry.id))
    return list((await session.exec(stmt)).all())


# The outbox again, for "an earlier message of the same order key": made once, because a new alias per query
# adapts every column of the table again (about 5 ms of CPU a claim, more than the rest of a one-order release).
_EARLIER = aliased(OutboxEntry, name="earlier")


def deliverable(
    stmt: Any,
    provider_ods: str,
    now: datetime,
    short_form_id: str | None,
    limit: int,
    *,
    skip_locked: bool,
    expired_leases: bool,
) -> Any:
    """`stmt` (a select of outbox rows or their columns) narrowed to one kind of a provider's deliverable orders:
    with `expired_leases`, leased orders whose lease ran out (oldest first), else queued orders that are due
    (longest due first). Either way no earlier message with the same order key (trust and RxNumber) may still
    be unacknowledged, so an amend or cancel never overtakes the order it changes. On PostgreSQL rows another
    transaction holds are skipped (`skip_locked`).

    Each kind is its own statement so that PostgreSQL can walk `ix_outbox_claim` in order and stop after `limit`
    rows, whatever the length of the queue (one statement with both kinds sorts every waiting order first).
    """
    earlier = _EARLIER
    blocked = (
        select(earlier.id)
        .where(
            earlier.order_key == OutboxEntry.order_key,
            col(earlier.id) < col(OutboxEntry.id),
            col(earlier.state).in_(WAITING),
        )
        .exists()
    )
    if expired_leases:
        due = and_(col(OutboxEntry.state) == OutboxState.LEASED, col(OutboxEntry.lease_expires_at) <= now)
        order: tuple[Any, ...] = (col(OutboxEntry.id),)
    else:
        due = and_(col(OutboxEntry.state) == OutboxState.QUEUED, col(OutboxEntry.available_at) <= now)
        order = (col(OutboxEntry.available_at), col(OutboxEntry.id))
    stmt = stmt.where(OutboxEntry.provider_ods == provider_ods, due, ~blocked)
    if short_form_id is not None:
        stmt = stmt.join(Prescription, col(Prescription.id) == col(OutboxEntry.prescription_id)).where(
            Prescription.short_form_id == short_form_id
        )
    stmt = stmt.order_by(*order).limit(limit)
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True, of=OutboxEntry)
    return stmt


async def take_deliverable(
    session: AsyncSession,
    stmt: Any,
    provider_ods: str,
    now: datetime,
    short_form_id: str | None,
    limit: int,
    *,
    skip_locked: bool,
) -> list[Any]:
    """Up to `limit` rows of `stmt` over a provider's deliverable orders (`deliverable`), locked on PostgreSQL:
    orders whose lease ran out first, then queued orders that are due."""
    rows: list[Any] = []
    for expired_leases in (True, False):
        wanted = limit - len(rows)
        if wanted <= 0:
            break
        narrowed = deliverable(
            stmt, provider_ods, now, short_form_id, wanted, skip_locked=skip_locked, expired_leases=expired_leases
        )
        rows.extend((await session.exec(narrowed)).all())
    return rows


async def get_messages(session: AsyncSession, ids: Sequence[str]) -> dict[str, FhirMessage]:
    if not ids:
        return {}
    rows = await session.exec(select(FhirMessage).where(col(FhirMessage.id).in_(list(ids))))
    return {m.id: m for m in rows.all()}


async def outbox_by_message(session: AsyncSession, message_id: str) -> OutboxEntry | None:
    return (await session.exec(select(OutboxEntry).where(OutboxEntry.message_id == message_id))).first()


def _failed_at() -> Any:
    """When an order last failed: its last push attempt, else its rejection, else its creation."""
    return func.coalesce(OutboxEntry.last_attempt_at, OutboxEntry.acknowledged_at, OutboxEntry.created_at)


async def list_outbox(
    session: AsyncSession,
    *,
    states: Sequence[str] | None = None,
    provider_ods: str | None = None,
    failed_since: datetime | None = None,
    limit: int = 100,
) -> list[OutboxEntry]:
    """Outbox rows, oldest first, filtered by state, provider and (for failures) when they last failed."""
    stmt = select(OutboxEntry)
    if states:
        stmt = stmt.where(col(OutboxEntry.state).in_(list(states)))
    if provider_ods is not None:
        stmt = stmt.where(OutboxEntry.provider_ods == provider_ods)
    if failed_since is not None:
        stmt = stmt.where(_failed_at() >= failed_since)
    return list((await session.exec(stmt.order_by(col(OutboxEntry.id)).limit(limit))).all())


async def outbox_counts(session: AsyncSession) -> list[tuple[str, str, int, datetime | None]]:
    """Per provider and state: how many rows, and the oldest one's creation time."""
    stmt = (
        select(OutboxEntry.provider_ods, OutboxEntry.state, func.count(), func.min(OutboxEntry.created_at))
        .group_by(col(OutboxEntry.provider_ods), col(OutboxEntry.state))
        .order_by(col(OutboxEntry.provider_ods), col(OutboxEntry.state))
    )
    return [(str(p), str(s), int(n), oldest) for p, s, n, oldest in (await session.exec(stmt)).all()]


async def later_in_order(session: AsyncSession, entry: OutboxEntry) -> list[OutboxEntry]:
    """Messages after `entry` with its order key (the same prescription) that were not cancelled."""
    stmt = select(OutboxEntry).where(
        OutboxEntry.order_key == entry.order_key,
        col(OutboxEntry.id) > (entry.id or 0),
        col(OutboxEntry.state) != OutboxState.CANCELLED,
    )
    return list((await session.exec(stmt.order_by(col(OutboxEntry.id)))).all())


async def delivery_attempts(session: AsyncSession, outbox_id: int) -> list[DeliveryAttempt]:
    stmt = select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == outbox_id).order_by(col(DeliveryAttempt.id))
    return list((await session.exec(stmt)).all())



async def was_sent_to(session: AsyncSession, prescription_id: str, provider_ods: str) -> bool:
    """Whether an order of the prescription was ever queued for the provider (it may have moved on since)."""
    stmt = select(OutboxEntry.id).where(
        OutboxEntry.prescription_id == prescription_id, OutboxEntry.provider_ods == provider_ods
    )
    return (await session.exec(stmt)).first() is not None
