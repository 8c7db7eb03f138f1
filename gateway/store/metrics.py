"""Aggregate reads behind the gauges of `GET /metrics` and the alert rules: a handful of grouped queries.

Each query touches only the rows still in the queue (queued, leased, dead) or a recent window of attempts, both
reached through indexes (`ix_outbox_claim`, `ix_delivery_attempt_at`), so a scrape stays cheap however much
history the tables hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, type_coerce
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain.outbox import WAITING, OutboxState
from gateway.store.columns import UTCDateTime
from gateway.store.tables import Alert, DeliveryAttempt, OutboxEntry, Provider

QUEUE_STATES: tuple[str, ...] = (*WAITING, OutboxState.DEAD)
"""Outbox states that are still the gateway's business; the others are history."""
WAITING_STATES = WAITING
HAND_OUT_KINDS = ("release", "push")
# Push attempt outcomes that are not a failure of the delivery (`leased` marks the claim itself, `not-sent`
# a message given up before it was sent: neither is an attempt to count).
PUSH_OK_OUTCOMES = ("ok", "accepted")
NOT_ATTEMPTS = ("leased", "not-sent")


@dataclass(frozen=True, slots=True)
class ProviderRow:
    ods: str
    mode: str
    active: bool
    paused: bool
    endpoint: str | None
    last_poll_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """The queue as one scrape or one alert evaluation sees it."""

    depth: dict[tuple[str, str], int]
    """(provider, state) → messages, for QUEUE_STATES."""
    oldest_waiting: dict[str, datetime]
    """provider → when its oldest waiting message was queued (received, or replayed)."""
    oldest_unacknowledged: dict[str, datetime]
    """provider → when its oldest order still out with it (leased) was first handed out."""
    providers: list[ProviderRow]


async def queue_snapshot(session: AsyncSession) -> QueueSnapshot:
    depth_rows = await session.exec(
        select(OutboxEntry.provider_ods, OutboxEntry.state, func.count())
        .where(col(OutboxEntry.state).in_(QUEUE_STATES))
        .group_by(col(OutboxEntry.provider_ods), col(OutboxEntry.state))
    )
    since = func.coalesce(OutboxEntry.queued_at, OutboxEntry.created_at)
    oldest_rows = await session.exec(
        select(OutboxEntry.provider_ods, type_coerce(func.min(since), UTCDateTime()))
        .where(col(OutboxEntry.state).in_(WAITING_STATES))
        .group_by(col(OutboxEntry.provider_ods))
    )
    handed_rows = await session.exec(
        select(OutboxEntry.provider_ods, type_coerce(func.min(DeliveryAttempt.at), UTCDateTime()))
        .join(DeliveryAttempt, col(DeliveryAttempt.outbox_id) == col(OutboxEntry.id))
        .where(
            OutboxEntry.state == OutboxState.LEASED,
            col(DeliveryAttempt.kind).in_(HAND_OUT_KINDS),
            col(DeliveryAttempt.at) >= since,
        )
        .group_by(col(OutboxEntry.provider_ods))
    )
    providers = await session.exec(select(Provider).order_by(col(Provider.ods)))
    return QueueSnapshot(
        depth={(str(p), str(s)): int(n) for p, s, n in depth_rows.all()},
        oldest_waiting={str(p): at for p, at in oldest_rows.all() if at is not None},
        oldest_unacknowledged={str(p): at for p, at in handed_rows.all() if at is not None},
        providers=[
            ProviderRow(p.ods, p.mode, p.active, p.paused, p.endpoint, p.last_poll_at, p.created_at)
            for p in providers.all()
        ],
    )


async def push_outcomes_since(session: AsyncSession, since: datetime) -> dict[str, tuple[int, int]]:
    """provider → (push attempts, failed ones) made since `since`."""
    failed = func.sum(case((col(DeliveryAttempt.outcome).in_(PUSH_OK_OUTCOMES), 0), else_=1))
    rows = await session.exec(
        select(OutboxEntry.provider_ods, func.count(), failed)
        .join(DeliveryAttempt, col(DeliveryAttempt.outbox_id) == col(OutboxEntry.id))
        .where(
            col(DeliveryAttempt.at) >= since,
            DeliveryAttempt.kind == "push",
            col(DeliveryAttempt.outcome).not_in(NOT_ATTEMPTS),
        )
        .group_by(col(OutboxEntry.provider_ods))
    )
    return {str(p): (int(n), int(f or 0)) for p, n, f in rows.all()}


async def last_push_success_since(session: AsyncSession, since: datetime) -> dict[str, datetime]:
    """provider → its latest successful push since `since` (providers without one are absent)."""
    rows = await session.exec(
        select(OutboxEntry.provider_ods, type_coerce(func.max(DeliveryAttempt.at), UTCDateTime()))
        .join(DeliveryAttempt, col(DeliveryAttempt.outbox_id) == col(OutboxEntry.id))
        .where(
            col(DeliveryAttempt.at) >= since,
            DeliveryAttempt.kind == "push",
            col(DeliveryAttempt.outcome).in_(PUSH_OK_OUTCOMES),
        )
        .group_by(col(OutboxEntry.provider_ods))
    )
    return {str(p): at for p, at in rows.all() if at is not None}


async def open_alert_counts(session: AsyncSession) -> dict[str, int]:
    """rule kind → alerts open now."""
    rows = await session.exec(
        select(Alert.kind, func.count()).where(Alert.state == "open").group_by(col(Alert.kind))
    )
    return {str(k): int(n) for k, n in rows.all()}
