"""All SQL of trust webhooks: subscriptions, dispatching events to them, claiming and finishing deliveries.

A delivery row is claimed like an outbox row (`repository.claim_orders`): queued and due, or leased with the lease
run out; a claim bumps the fencing token; on PostgreSQL `FOR UPDATE SKIP LOCKED`, on SQLite the `BEGIN IMMEDIATE`
every transaction starts with serialises claims. A row waits while an earlier event of the same prescription for
the same subscription is still queued or leased, so a trust receives each prescription's events in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlalchemy.orm import aliased
from sqlmodel import and_, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.tables import LifecycleEvent, Prescription, WebhookDelivery, WebhookSubscription

PENDING = ("queued", "leased")


async def last_event_id(session: AsyncSession) -> int:
    """The highest lifecycle event id so far (0 when there is none): where a new subscription starts."""
    found = (await session.exec(select(func.max(LifecycleEvent.id)))).one()
    return int(found or 0)


async def subscriptions(
    session: AsyncSession, *, trust_ods: str | None = None, active_only: bool = False
) -> list[WebhookSubscription]:
    stmt = select(WebhookSubscription)
    if trust_ods is not None:
        stmt = stmt.where(WebhookSubscription.trust_ods == trust_ods)
    if active_only:
        stmt = stmt.where(col(WebhookSubscription.active).is_(True))
    stmt = stmt.order_by(col(WebhookSubscription.created_at), col(WebhookSubscription.id))
    return list((await session.exec(stmt)).all())


async def lock_for_dispatch(session: AsyncSession, *, skip_locked: bool) -> list[WebhookSubscription]:
    """Active subscriptions, locked so that two workers never dispatch to the same one at once."""
    stmt = select(WebhookSubscription).where(col(WebhookSubscription.active).is_(True))
    stmt = stmt.order_by(col(WebhookSubscription.id))
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.exec(stmt)).all())


async def undispatched_events(
    session: AsyncSession, sub: WebhookSubscription, kinds: Sequence[str] | None, *, limit: int
) -> list[LifecycleEvent]:
    """Events of the subscription's trust after its cursor, of the kinds it wants, not yet owed to it, oldest first."""
    owed = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.subscription_id == sub.id, WebhookDelivery.event_id == LifecycleEvent.id)
        .exists()
    )
    stmt = (
        select(LifecycleEvent)
        .join(Prescription, col(Prescription.id) == col(LifecycleEvent.prescription_id))
        .where(Prescription.trust_ods == sub.trust_ods, col(LifecycleEvent.id) > sub.cursor, ~owed)
    )
    if kinds is not None:
        stmt = stmt.where(col(LifecycleEvent.kind).in_(list(kinds)))
    return list((await session.exec(stmt.order_by(col(LifecycleEvent.id)).limit(limit))).all())


async def claim_deliveries(
    session: AsyncSession,
    *,
    subscription_id: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    skip_locked: bool,
) -> list[WebhookDelivery]:
    """Lease up to `limit` deliverable rows of one subscription, bumping each one's fencing token and attempts."""
    earlier = aliased(WebhookDelivery)
    blocked = (
        select(earlier.id)
        .where(
            earlier.subscription_id == WebhookDelivery.subscription_id,
            earlier.prescription_id == WebhookDelivery.prescription_id,
            col(earlier.event_id) < col(WebhookDelivery.event_id),
            col(earlier.state).in_(PENDING),
        )
        .exists()
    )
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription_id,
        or_(
            and_(col(WebhookDelivery.state) == "queued", col(WebhookDelivery.available_at) <= now),
            and_(col(WebhookDelivery.state) == "leased", col(WebhookDelivery.lease_expires_at) <= now),
        ),
        ~blocked,
    )
    stmt = stmt.order_by(col(WebhookDelivery.event_id)).limit(limit)
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True, of=WebhookDelivery)
    rows = list((await session.exec(stmt)).all())
    for row in rows:
        row.state = "leased"
        row.lease_token += 1
        row.lease_expires_at = lease_until
        row.attempts += 1
        session.add(row)
    return rows


async def deliveries(
    session: AsyncSession, subscription_id: str, *, state: str | None = None, limit: int = 100
) -> list[WebhookDelivery]:
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if state is not None:
        stmt = stmt.where(WebhookDelivery.state == state)
    return list((await session.exec(stmt.order_by(col(WebhookDelivery.event_id)).limit(limit))).all())


async def requeue_dead(session: AsyncSession, subscription_id: str, now: datetime, limit: int = 100_000) -> int:
    """Queue the subscription's first `limit` dead deliveries (by event) again, attempts and age afresh; how many."""
    dead = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.subscription_id == subscription_id, WebhookDelivery.state == "dead")
        .order_by(col(WebhookDelivery.event_id))
        .limit(limit)
    )
    stmt = (
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id).in_(dead))
        .values(state="queued", attempts=0, queued_at=now, available_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )
    result = await session.exec(stmt)
    return int(result.rowcount or 0)


async def remove_subscription(session: AsyncSession, subscription_id: str) -> None:
    """The subscription and every delivery owed to it."""
    await session.exec(delete(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == subscription_id))
    await session.exec(delete(WebhookSubscription).where(col(WebhookSubscription.id) == subscription_id))
