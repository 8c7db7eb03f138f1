"""All SQL of webhooks: subscriptions, dispatching events to them, claiming and finishing deliveries.

A trust's subscription is owed lifecycle events (dispatched by the relay from its cursor); a provider's is owed
invoice events (owed in the very transaction that records the event, `owe_invoice_event`). A delivery row is claimed
like an outbox row (`outbox_queue.take_deliverable`): queued and due, or leased with the lease run out; a claim bumps
the fencing token; on PostgreSQL `FOR UPDATE SKIP LOCKED`, on SQLite the `BEGIN IMMEDIATE` every transaction starts
with serialises claims. A row waits while an earlier event of the same prescription (or invoice) for the same
subscription is still queued or leased, so a trust receives each prescription's events in order, and a provider
each invoice's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.orm import aliased
from sqlmodel import and_, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.invoice_tables import InvoiceEvent
from gateway.store.tables import LifecycleEvent, Prescription, WebhookDelivery, WebhookSubscription

PENDING = ("queued", "leased")
TRUST = "trust"
PROVIDER = "provider"


def _ordinal(table: Any = WebhookDelivery, *, invoices: bool | None = None) -> Any:
    """A delivery's place in its subscription's order: its lifecycle event id, or its invoice event id (one
    subscription is owed only one of the two kinds, so the ids never mix). `invoices` None: either column."""
    if invoices is None:
        return func.coalesce(table.event_id, table.invoice_event_id)
    return col(table.invoice_event_id) if invoices else col(table.event_id)


async def last_event_id(session: AsyncSession) -> int:
    """The highest lifecycle event id so far (0 when there is none): where a new subscription starts."""
    found = (await session.exec(select(func.max(LifecycleEvent.id)))).one()
    return int(found or 0)


async def subscriptions(
    session: AsyncSession, *, trust_ods: str | None = None, tenant_kind: str | None = None, active_only: bool = False
) -> list[WebhookSubscription]:
    """Subscriptions oldest first; `trust_ods` is the owner's ODS code (a provider's, with `tenant_kind` provider)."""
    stmt = select(WebhookSubscription)
    if trust_ods is not None:
        stmt = stmt.where(WebhookSubscription.trust_ods == trust_ods)
    if tenant_kind is not None:
        stmt = stmt.where(WebhookSubscription.tenant_kind == tenant_kind)
    if active_only:
        stmt = stmt.where(col(WebhookSubscription.active).is_(True))
    stmt = stmt.order_by(col(WebhookSubscription.created_at), col(WebhookSubscription.id))
    return list((await session.exec(stmt)).all())


async def lock_for_dispatch(session: AsyncSession, *, skip_locked: bool) -> list[WebhookSubscription]:
    """Active trust subscriptions, locked so that two workers never dispatch to the same one at once."""
    stmt = select(WebhookSubscription).where(
        col(WebhookSubscription.active).is_(True), WebhookSubscription.tenant_kind == TRUST
    )
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
    invoices: bool = False,
) -> list[WebhookDelivery]:
    """Lease up to `limit` deliverable rows of one subscription, bumping each one's fencing token and attempts.
    `invoices`: the subscription is a provider's, owed invoice events (ordered by their ids)."""
    earlier = aliased(WebhookDelivery)
    blocked = (
        select(earlier.id)
        .where(
            earlier.subscription_id == WebhookDelivery.subscription_id,
            earlier.prescription_id == WebhookDelivery.prescription_id,
            _ordinal(earlier, invoices=invoices) < _ordinal(invoices=invoices),
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
    stmt = stmt.order_by(_ordinal(invoices=invoices)).limit(limit)
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
    return list((await session.exec(stmt.order_by(_ordinal()).limit(limit))).all())


async def requeue_dead(session: AsyncSession, subscription_id: str, now: datetime, limit: int = 100_000) -> int:
    """Queue the subscription's first `limit` dead deliveries (by event) again, attempts and age afresh; how many."""
    dead = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.subscription_id == subscription_id, WebhookDelivery.state == "dead")
        .order_by(_ordinal())
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


async def owe_invoice_event(session: AsyncSession, event: InvoiceEvent, now: datetime) -> int:
    """Owe a just-recorded invoice event (flushed: it has its id) to each of its provider's subscriptions that wants
    its kind, in the caller's transaction; how many. A paused subscription is owed it too, and gets it on resuming."""
    subs = await subscriptions(session, trust_ods=event.provider_ods, tenant_kind=PROVIDER)
    owed = 0
    for sub in subs:
        kinds = [kind for kind in (sub.events or "").split(",") if kind]
        if kinds and event.kind not in kinds:
            continue
        session.add(
            WebhookDelivery(
                subscription_id=sub.id, invoice_event_id=event.id, prescription_id=event.invoice_id,
                state="queued", available_at=now, queued_at=now,
            )
        )
        owed += 1
    return owed


async def invoice_event(session: AsyncSession, event_id: int) -> InvoiceEvent | None:
    found: InvoiceEvent | None = await session.get(InvoiceEvent, event_id)
    return found


async def restart_waiting(session: AsyncSession, subscription_id: str, now: datetime) -> int:
    """Events owed to a subscription and never yet attempted start their age afresh (it is being resumed)."""
    stmt = (
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.subscription_id) == subscription_id,
            col(WebhookDelivery.state) == "queued",
            col(WebhookDelivery.attempts) == 0,
        )
        .values(queued_at=now, available_at=now)
        .execution_options(synchronize_session=False)
    )
    result = await session.exec(stmt)
    return int(result.rowcount or 0)
