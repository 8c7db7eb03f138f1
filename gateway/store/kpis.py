"""The SQL behind the national homecare KPIs (docs/kpis.md): aggregates and narrow rows of ids, ODS codes, times and
counts. Nothing here opens a sealed column; a patient is their NHS-number blind index (`prescription.nhs_index`).

Every function takes a `Scope` (the provider and trust the caller may see, after the service's tenancy checks) and
works on SQLite and PostgreSQL alike: no date arithmetic or time-zone conversion in SQL, only comparisons with bound
UTC instants and dates, MIN/MAX/COUNT and EXISTS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, select, type_coerce
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import states as lifecycle
from gateway.store import tables
from gateway.store.columns import UTCDateTime

# The tables as untyped SQL expressions: SQLModel types their columns as Python values, which the query
# builder's overloads reject (`sqlmodel.col` does not cover aliases).
Prescription: Any = tables.Prescription
OutboxEntry: Any = tables.OutboxEntry
FhirMessage: Any = tables.FhirMessage
Delivery: Any = tables.Delivery
LifecycleEvent: Any = tables.LifecycleEvent

LIVE = (lifecycle.TO_BE_DISPENSED, lifecycle.WITH_DISPENSER, lifecycle.WITH_DISPENSER_ACTIVE)
DELIVERY_OUTCOMES = ("delivery-delivered", "delivery-failed", "delivery-returned")


async def _rows(session: AsyncSession, stmt: Any) -> Sequence[Any]:
    return list((await session.exec(stmt)).all())


def holder(p: Any) -> Any:
    """The provider a prescription is attributed to: the one it is routed to now or, while it is held unrouted
    after a return, the one its latest order went to."""
    latest = (
        select(OutboxEntry.provider_ods)
        .where(OutboxEntry.prescription_id == p.id)
        .order_by(OutboxEntry.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(p.provider_ods, latest)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which prescriptions count: those of `provider_ods` and of `trust_ods`, when given."""

    provider_ods: str | None = None
    trust_ods: str | None = None

    def where(self, p: Any, provider: Any = None) -> list[ColumnElement[bool]]:
        """The conditions on a prescription table (or alias) `p` whose provider is the expression `provider`
        (default: the prescription's current provider); prescriptions with a provider only."""
        provider = p.provider_ods if provider is None else provider
        conditions: list[ColumnElement[bool]] = [provider.is_not(None)]
        if self.provider_ods is not None:
            conditions.append(provider == self.provider_ods)
        if self.trust_ods is not None:
            conditions.append(p.trust_ods == self.trust_ods)
        return conditions


@dataclass(frozen=True, slots=True)
class OrderTiming:
    """One prescription order sent to a provider in the window: when it was queued for that provider, when the
    provider acknowledged or rejected it, and when the prescription was cancelled (None: has not happened)."""

    provider_ods: str
    trust_ods: str
    received_at: datetime
    acknowledged_at: datetime | None
    cancelled_at: datetime | None
    rejected_at: datetime | None


def _first(condition: ColumnElement[bool]) -> Any:
    """MIN(at) of the events meeting `condition` in a grouped query, typed so both databases return aware
    datetimes."""
    return type_coerce(func.min(case((condition, LifecycleEvent.at))), UTCDateTime())


async def order_timings(session: AsyncSession, scope: Scope, start: datetime, end: datetime) -> list[OrderTiming]:
    """Every prescription-order queued for a provider in [start, end) (on receipt, or on re-routing after a
    return), with the provider's first answer to that order and the prescription's first cancellation."""
    p, o, e = Prescription, OutboxEntry, LifecycleEvent
    answered = e.message_id == o.message_id
    stmt = (
        select(
            o.provider_ods,
            p.trust_ods,
            o.created_at,
            _first(and_(e.kind == "acknowledged", answered)),
            _first(e.kind == "cancelled"),
            _first(and_(e.kind == "provider-rejected", answered)),
        )
        .select_from(o)
        .join(FhirMessage, and_(FhirMessage.id == o.message_id, FhirMessage.event == "prescription-order"))
        .join(p, p.id == o.prescription_id)
        .outerjoin(
            e,
            and_(e.prescription_id == p.id, e.kind.in_(("acknowledged", "cancelled", "provider-rejected"))),
        )
        .where(*scope.where(p, o.provider_ods), o.created_at >= start, o.created_at < end)
        .group_by(o.id, o.provider_ods, p.trust_ods, o.created_at)
    )
    rows = await _rows(session, stmt)
    return [OrderTiming(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class FirstDelivery:
    """A patient new to a provider: the attributed trust, when their first prescription with the provider arrived
    and when their first delivery was made (None: still waiting)."""

    provider_ods: str
    trust_ods: str
    started_at: datetime
    first_delivered_at: datetime | None


_ENDED = ("cancelled", "provider-rejected")


@dataclass(frozen=True, slots=True)
class HeldPrescription:
    """One prescription with a provider, as the new-patient KPIs need it (one row each, no patient data)."""

    nhs_index: str
    provider_ods: str
    trust_ods: str
    created_at: datetime
    acknowledged: bool
    ended_at: datetime | None  # its first cancellation or provider rejection
    first_delivered_at: datetime | None


async def held_prescriptions(session: AsyncSession, scope: Scope) -> list[HeldPrescription]:
    """Every prescription with a provider in the provider scope, with its facts aggregated by set (two grouped
    subqueries joined once): no query per row and no correlated subquery per pair."""
    p, e = aliased(Prescription), LifecycleEvent
    events = (
        select(
            e.prescription_id.label("prescription_id"),
            func.max(case((e.kind == "acknowledged", 1), else_=0)).label("acknowledged"),
            type_coerce(func.min(case((e.kind.in_(_ENDED), e.at))), UTCDateTime()).label("ended_at"),
        )
        .where(e.kind.in_(("acknowledged", *_ENDED)))
        .group_by(e.prescription_id)
        .subquery("events")
    )
    made = (
        select(
            Delivery.prescription_id.label("prescription_id"),
            type_coerce(func.min(Delivery.delivered_at), UTCDateTime()).label("first_at"),
        )
        .where(Delivery.delivered_at.is_not(None))
        .group_by(Delivery.prescription_id)
        .subquery("made")
    )
    stmt = (
        select(
            p.nhs_index,
            p.provider_ods,
            p.trust_ods,
            p.created_at,
            func.coalesce(events.c.acknowledged, 0),
            events.c.ended_at,
            made.c.first_at,
        )
        .outerjoin(events, events.c.prescription_id == p.id)
        .outerjoin(made, made.c.prescription_id == p.id)
        .where(*Scope(provider_ods=scope.provider_ods).where(p))
    )
    return [HeldPrescription(a, b, c, d, bool(f), g, h) for a, b, c, d, f, g, h in await _rows(session, stmt)]


@dataclass(slots=True)
class _Pair:
    started_at: datetime | None = None
    first_at: datetime | None = None
    members: list[HeldPrescription] = field(default_factory=list)


def first_deliveries(
    held: Sequence[HeldPrescription],
    *,
    trust_ods: str | None,
    delivered_from: datetime | None,
    delivered_before: datetime,
    waiting_only: bool,
) -> list[FirstDelivery]:
    """Patient-provider pairs (blind index and the provider holding the prescription) whose first delivery was made
    in [delivered_from, delivered_before); with `waiting_only`, those whose first prescription arrived before
    `delivered_before`, who had no delivery by then, and who still had a prescription not cancelled or rejected.

    A pair starts with its earliest prescription that the provider acknowledged or that did not end unanswered
    (cancelled or rejected before any acknowledgement); its trust is the least ODS code among the pair's
    prescriptions created at that instant. One pass over `held` to group by pair, one over the pairs."""
    pairs: dict[tuple[str, str], _Pair] = {}
    for h in held:
        pair = pairs.setdefault((h.nhs_index, h.provider_ods), _Pair())
        pair.members.append(h)
        if (h.acknowledged or h.ended_at is None) and (pair.started_at is None or h.created_at < pair.started_at):
            pair.started_at = h.created_at
        if h.first_delivered_at is not None and (pair.first_at is None or h.first_delivered_at < pair.first_at):
            pair.first_at = h.first_delivered_at
    found: list[FirstDelivery] = []
    for (_, provider_ods), pair in pairs.items():
        started, first_at, members = pair.started_at, pair.first_at, pair.members
        if started is None:
            continue
        if waiting_only:
            open_then = any(
                m.created_at < delivered_before and (m.ended_at is None or m.ended_at >= delivered_before)
                for m in members
            )
            if not (started < delivered_before and (first_at is None or first_at >= delivered_before) and open_then):
                continue
        elif (
            first_at is None
            or not (delivered_from is None or first_at >= delivered_from)
            or (first_at >= delivered_before)
        ):
            continue
        trust = min(m.trust_ods for m in members if m.created_at == started)
        if trust_ods is None or trust == trust_ods:
            found.append(FirstDelivery(provider_ods, trust, started, first_at))
    return found


@dataclass(frozen=True, slots=True)
class MadeDelivery:
    provider_ods: str
    trust_ods: str
    delivered_at: datetime
    scheduled_date: date | None


async def deliveries_made(session: AsyncSession, scope: Scope, start: datetime, end: datetime) -> list[MadeDelivery]:
    """Deliveries made in [start, end) by their delivered time, with the date agreed for them."""
    p = Prescription
    provider = holder(p)
    stmt = (
        select(provider, p.trust_ods, Delivery.delivered_at, Delivery.scheduled_date)
        .join(p, p.id == Delivery.prescription_id)
        .where(*scope.where(p, provider), Delivery.delivered_at >= start, Delivery.delivered_at < end)
    )
    return [MadeDelivery(*row) for row in await _rows(session, stmt)]


async def _counted(session: AsyncSession, inner: Any) -> list[tuple[Any, ...]]:
    """COUNT(*) of `inner`'s rows grouped by all its columns (grouping on a subquery's columns, so that computed
    attributions group alike on both databases)."""
    sub = inner.subquery("facts")
    columns = list(sub.c)
    stmt = select(*columns, func.count()).group_by(*columns)
    return [tuple(row) for row in await _rows(session, stmt)]


def _party() -> Any:
    """The attributable party of a failed or returned delivery, from the reason its timeline event names
    (`deliveries._detail` writes "(<reason code> <display>, attributable to …)")."""
    whens = [
        (LifecycleEvent.detail.like(f"%({code} %"), literal(party.value))
        for code, (_display, party) in lifecycle.FAILED_DELIVERY_REASONS.items()
    ]
    return case(*whens, else_=literal(lifecycle.Party.UNATTRIBUTED.value))


def _events(scope: Scope, kinds: Sequence[str], start: datetime, end: datetime, *extra: Any) -> Any:
    p = Prescription
    provider = holder(p)
    return (
        select(provider.label("provider_ods"), p.trust_ods, LifecycleEvent.kind, *extra)
        .join(p, p.id == LifecycleEvent.prescription_id)
        .where(
            *scope.where(p, provider),
            LifecycleEvent.kind.in_(list(kinds)),
            LifecycleEvent.at >= start,
            LifecycleEvent.at < end,
        )
    )


async def delivery_outcomes(
    session: AsyncSession, scope: Scope, start: datetime, end: datetime
) -> list[tuple[str, str, str, str, int]]:
    """(provider, trust, event kind, attributable party, count) of the delivery outcomes reported in [start, end)."""
    inner = _events(scope, DELIVERY_OUTCOMES, start, end, _party().label("party"))
    return [(str(a), str(b), str(c), str(d), int(n)) for a, b, c, d, n in await _counted(session, inner)]


async def event_counts(
    session: AsyncSession, scope: Scope, kinds: Sequence[str], start: datetime, end: datetime
) -> list[tuple[str, str, str, int]]:
    """(provider, trust, event kind, count) of the timeline events of `kinds` in [start, end)."""
    inner = _events(scope, kinds, start, end)
    return [(str(a), str(b), str(c), int(n)) for a, b, c, n in await _counted(session, inner)]


async def received_counts(
    session: AsyncSession, scope: Scope, start: datetime, end: datetime
) -> list[tuple[str, str, int]]:
    """(provider, trust, prescriptions received in [start, end))."""
    p = Prescription
    provider = holder(p)
    inner = select(provider.label("provider_ods"), p.trust_ods).where(
        *scope.where(p, provider), p.created_at >= start, p.created_at < end
    )
    return [(str(a), str(b), int(n)) for a, b, n in await _counted(session, inner)]


@dataclass(frozen=True, slots=True)
class Cancellation:
    provider_ods: str
    trust_ods: str
    amendment: bool  # the version was cancelled because a later version replaced it
    before_acknowledgement: bool


async def cancellations(session: AsyncSession, scope: Scope, start: datetime, end: datetime) -> list[Cancellation]:
    """Each prescription cancelled in [start, end): whether an amendment replaced it, and whether the provider had
    acknowledged it first."""
    p = aliased(Prescription)
    later = aliased(Prescription)
    ack = aliased(LifecycleEvent)
    cancelled = aliased(LifecycleEvent)
    amended = exists().where(
        later.trust_ods == p.trust_ods, later.rx_number == p.rx_number, later.rx_version > p.rx_version
    )
    acked_first = exists().where(ack.prescription_id == p.id, ack.kind == "acknowledged", ack.at <= cancelled.at)
    provider = holder(p)
    stmt = (
        select(provider, p.trust_ods, amended, acked_first)
        .join(cancelled, cancelled.prescription_id == p.id)
        .where(*scope.where(p, provider), cancelled.kind == "cancelled", cancelled.at >= start, cancelled.at < end)
    )
    rows = await _rows(session, stmt)
    return [Cancellation(str(a), str(b), bool(c), not bool(d)) for a, b, c, d in rows]
