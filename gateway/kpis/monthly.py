"""The national homecare KPIs (docs/kpis.md) for one month, per provider, per trust and per provider and trust.

Everything comes from what the gateway stores anyway: prescription receipt, the provider's acknowledgement, the
delivery reports, cancellations, returns and clinical queries (`gateway/store/kpis.py`). Months are UK calendar
months. A trust sees only its own prescriptions, a provider only the ones routed to it, an operator (an operator
client, a console operator, the gateway's own command line) all; the report is computed from the visible
prescriptions alone, so its totals are the caller's own.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from gateway.audit.actor import Actor
from gateway.budget import offload
from gateway.context import Gateway
from gateway.errors import InputError, Issue, Location
from gateway.fhir.datatypes import UK_TIME, uk_date
from gateway.kpis.scores import GroupValue, Tally, measures
from gateway.security.tenancy import visible_scope
from gateway.store import kpis as store
from gateway.store import rollups, supply_kpis

DEFAULT_ACK_TARGET_HOURS = 48
DEFAULT_HORIZON_DAYS = 14
ALL = "*"
LEVELS = ("all", "provider", "trust", "provider-trust")
_PERIOD = re.compile(r"(2[0-9]{3})-(0[1-9]|1[0-2])")
_ODS = re.compile(r"[A-Z0-9]{3,12}")


@dataclass(frozen=True, slots=True)
class Period:
    """A UK calendar month and its bounds as UTC instants."""

    year: int
    month: int

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next_first_day(self) -> date:
        return date(self.year + self.month // 12, self.month % 12 + 1, 1)

    @property
    def start(self) -> datetime:
        return _uk_midnight(self.first_day)

    @property
    def end(self) -> datetime:
        return _uk_midnight(self.next_first_day)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @classmethod
    def containing(cls, instant: datetime) -> Period:
        local = instant.astimezone(UK_TIME)
        return cls(local.year, local.month)


def _uk_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UK_TIME).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Options:
    ack_target_hours: int = DEFAULT_ACK_TARGET_HOURS
    horizon_days: int = DEFAULT_HORIZON_DAYS


@dataclass(frozen=True, slots=True)
class Cell:
    """The KPIs of one provider and trust (either may be `ALL`)."""

    level: str
    provider_ods: str
    trust_ods: str
    measures: dict[str, dict[str, GroupValue]]


@dataclass(frozen=True, slots=True)
class KpiReport:
    period: Period
    generated_at: datetime
    as_of: date | None  # the day the at-risk KPIs are measured on; None for a past month
    provider_ods: str | None
    trust_ods: str | None
    options: Options
    cells: list[Cell]

    def cell(self, provider_ods: str = ALL, trust_ods: str = ALL) -> Cell | None:
        return next((c for c in self.cells if (c.provider_ods, c.trust_ods) == (provider_ods, trust_ods)), None)


# --- request parsing -------------------------------------------------------------------------------------------------
def _bad(path: str, message: str, value: str | None, expected: str) -> InputError:
    return InputError(
        [Issue(code="INVALID_PARAMETER", message=message, location=Location(path=path), value=value, expected=expected)]
    )


def parse_period(raw: str | None, now: datetime) -> Period:
    """`YYYY-MM` (default: the current UK month); not a month that has not started."""
    if raw is None or raw == "":
        return Period.containing(now)
    found = _PERIOD.fullmatch(raw.strip())
    if found is None:
        raise _bad("period", "the period is a calendar month", raw[:40], "YYYY-MM from 2000-01, e.g. 2026-11")
    period = Period(int(found[1]), int(found[2]))
    if period.start > now:
        raise _bad("period", "that month has not started yet", raw, f"{Period.containing(now).label} or earlier")
    return period


def parse_ods(raw: str | None, path: str) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    code = raw.strip().upper()
    if _ODS.fullmatch(code) is None:
        raise _bad(path, f"the {path} is an ODS code", raw[:40], "3 to 12 letters and digits, e.g. RBA")
    return code


# --- accumulation ----------------------------------------------------------------------------------------------------
class Tallys:
    """Each fact counts in four cells: its provider and trust, its provider, its trust, and the whole."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str], Tally] = defaultdict(Tally)
        self.cells[(ALL, ALL)] = Tally()

    def of(self, provider_ods: str, trust_ods: str) -> Iterable[Tally]:
        for key in ((provider_ods, trust_ods), (provider_ods, ALL), (ALL, trust_ods), (ALL, ALL)):
            bucket = self.cells[key]
            bucket.touched = True
            yield bucket


def _hours(delta: timedelta) -> Decimal:
    return Decimal(delta.total_seconds()) / Decimal(3600)


async def build_report(
    gw: Gateway,
    principal: Actor,
    *,
    period: Period,
    provider_ods: str | None = None,
    trust_ods: str | None = None,
    options: Options | None = None,
) -> KpiReport:
    """Every KPI of `period` the caller may see, per provider, per trust, per provider and trust, and in all."""
    scope = visible_scope(principal, provider_ods, trust_ods)
    options = options or Options()
    now = gw.clock()
    start, end = period.start, period.end
    until = min(end, now)
    current = start <= now < end
    as_of = uk_date(now) if current else None
    async with gw.sessions() as session:
        timings = await store.order_timings(session, scope, start, end)
        held = await rollups.held_prescriptions(session, scope, relevant_from=min(start, until))
        made = await store.deliveries_made(session, scope, start, end)
        outcomes = await store.delivery_outcomes(session, scope, start, end)
        received = await store.received_counts(session, scope, start, end)
        events = await store.event_counts(session, scope, ("returned", "query-raised"), start, end)
        cancelled = await store.cancellations(session, scope, start, end)
        supplies = (
            await supply_kpis.supplies_ending(session, scope, as_of, as_of + timedelta(days=options.horizon_days))
            if as_of is not None
            else []
        )

    facts = _Facts(timings, held, until, made, outcomes, received, events, cancelled, supplies)
    return await offload(_report, facts, period, now, as_of, scope, options)


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the store answered for one month: narrow rows, tallied off the event loop."""

    timings: list[store.OrderTiming]
    held: list[store.HeldPrescription]
    until: datetime  # the end of the month, or now when it is the current one
    made: list[store.MadeDelivery]
    outcomes: list[tuple[str, str, str, str, int]]
    received: list[tuple[str, str, int]]
    events: list[tuple[str, str, str, int]]
    cancelled: list[store.Cancellation]
    supplies: list[supply_kpis.SupplyAtRisk]


def _report(
    facts: _Facts, period: Period, now: datetime, as_of: date | None, scope: store.Scope, options: Options
) -> KpiReport:
    """Tally the facts into every cell: one pass over each list (four cells per fact)."""
    buckets = Tallys()
    target = timedelta(hours=options.ack_target_hours)
    timings, made = facts.timings, facts.made
    completed = store.first_deliveries(
        facts.held,
        trust_ods=scope.trust_ods,
        delivered_from=period.start,
        delivered_before=period.end,
        waiting_only=False,
    )
    waiting = store.first_deliveries(
        facts.held, trust_ods=scope.trust_ods, delivered_from=None, delivered_before=facts.until, waiting_only=True
    )
    outcomes, received, events, cancelled, supplies = (
        facts.outcomes,
        facts.received,
        facts.events,
        facts.cancelled,
        facts.supplies,
    )
    for t in timings:
        deadline = t.received_at + target
        ended = min((x for x in (t.cancelled_at, t.rejected_at) if x is not None), default=None)
        for b in buckets.of(t.provider_ods, t.trust_ods):
            b.orders += 1
            if t.acknowledged_at is not None:
                b.ack_hours.append(_hours(t.acknowledged_at - t.received_at))
                if t.acknowledged_at <= deadline:
                    b.within += 1
                else:
                    b.missed += 1
                continue
            b.unanswered += 1
            if ended is not None and ended < deadline:
                continue  # cancelled or rejected before its target passed: excluded
            if deadline <= now or ended is not None:
                b.missed += 1
    for f in completed:
        assert f.first_delivered_at is not None  # noqa: S101 - the query asks for delivered pairs
        days = (uk_date(f.first_delivered_at) - uk_date(f.started_at)).days
        for b in buckets.of(f.provider_ods, f.trust_ods):
            b.first_days.append(Decimal(days))
    for f in waiting:
        for b in buckets.of(f.provider_ods, f.trust_ods):
            b.waiting += 1
    for d in made:
        for b in buckets.of(d.provider_ods, d.trust_ods):
            b.made += 1
            if d.scheduled_date is None:
                b.no_agreed_date += 1
            elif uk_date(d.delivered_at) == d.scheduled_date:
                b.on_date += 1
    for provider, trust, kind, party, count in outcomes:
        for b in buckets.of(provider, trust):
            b.outcomes += count
            if kind != "delivery-delivered":
                b.failed["all"] += count
                b.failed[party] += count
    for provider, trust, count in received:
        for b in buckets.of(provider, trust):
            b.received += count
    for provider, trust, kind, count in events:
        for b in buckets.of(provider, trust):
            if kind == "returned":
                b.returns += count
            else:
                b.queries += count
    for c in cancelled:
        for b in buckets.of(c.provider_ods, c.trust_ods):
            if c.amendment:
                b.amendments += 1
            else:
                b.cancellations += 1
    for s in supplies:
        if s.stopped:
            continue
        for b in buckets.of(s.provider_ods, s.trust_ods):
            b.patients_at_risk += not s.delivery_booked
            b.prescriptions_at_risk += not s.prescription_to_follow

    cells = [
        Cell(_level(p, t), p, t, measures(b, snapshot=as_of is not None))
        for (p, t), b in sorted(buckets.cells.items(), key=lambda kv: (LEVELS.index(_level(*kv[0])), kv[0]))
        if b.touched or (p, t) == (ALL, ALL)
    ]
    return KpiReport(period, now, as_of, scope.provider_ods, scope.trust_ods, options, cells)


async def build_reports(
    gw: Gateway,
    principal: Actor,
    *,
    last: Period,
    months: int,
    provider_ods: str | None = None,
    trust_ods: str | None = None,
    options: Options | None = None,
) -> list[KpiReport]:
    """The reports of `months` consecutive months ending with `last`, oldest first (for charts)."""
    periods = [last]
    while len(periods) < months:
        periods.append(periods[-1].previous())
    return [
        await build_report(gw, principal, period=p, provider_ods=provider_ods, trust_ods=trust_ods, options=options)
        for p in reversed(periods)
    ]


def _level(provider: str, trust: str) -> str:
    if provider == ALL:
        return "all" if trust == ALL else "trust"
    return "provider" if trust == ALL else "provider-trust"
