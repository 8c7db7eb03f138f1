"""The KPI arithmetic: what a cell counted (`Tally`), and its measure groups with their populations and scores
(median, nearest-rank percentile, percentages rounded half-up). Pure: no I/O."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from gateway.kpis import catalog as cat


@dataclass(frozen=True, slots=True)
class GroupValue:
    """One measure group's populations (code → count) and score (None when there is nothing to score)."""

    populations: dict[str, int]
    score: Decimal | None = None


@dataclass
class Tally:
    """What one cell counted; `measures` turns it into the KPI groups."""

    received: int = 0
    ack_hours: list[Decimal] = field(default_factory=list)
    orders: int = 0
    unanswered: int = 0  # cancelled, rejected or still waiting: not in the measure population
    within: int = 0
    missed: int = 0
    first_days: list[Decimal] = field(default_factory=list)
    waiting: int = 0
    made: int = 0
    no_agreed_date: int = 0
    on_date: int = 0
    outcomes: int = 0
    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    patients_at_risk: int = 0
    prescriptions_at_risk: int = 0
    cancellations: int = 0
    amendments: int = 0
    returns: int = 0
    queries: int = 0
    touched: bool = False


def median(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: list[Decimal], pct: int) -> Decimal | None:
    """The nearest-rank percentile: the smallest value with at least `pct`% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct * len(ordered) / 100))
    return ordered[rank - 1]


def rounded(value: Decimal | None, places: int = 1) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def per_100(numerator: int, denominator: int) -> Decimal | None:
    return rounded(Decimal(100 * numerator) / denominator) if denominator else None


def measures(b: Tally, *, snapshot: bool) -> dict[str, dict[str, GroupValue]]:
    acked = len(b.ack_hours)
    ack_pops = {cat.INITIAL: b.orders, cat.MEASURE_POPULATION: acked, cat.MEASURE_POPULATION_EXCLUSION: b.unanswered}
    excluded = b.orders - b.within - b.missed
    denominator = b.within + b.missed
    out: dict[str, dict[str, GroupValue]] = {
        "hgw-kpi-acknowledgement-time": {
            "median": GroupValue(ack_pops, rounded(median(b.ack_hours))),
            "p90": GroupValue(ack_pops, rounded(percentile(b.ack_hours, 90))),
        },
        "hgw-kpi-acknowledgement-within-target": {
            "within-target": GroupValue(
                {
                    cat.INITIAL: b.orders,
                    cat.DENOMINATOR_EXCLUSION: excluded,
                    cat.DENOMINATOR: denominator,
                    cat.NUMERATOR: b.within,
                },
                per_100(b.within, denominator),
            )
        },
        "hgw-kpi-first-delivery-time": {
            "median": GroupValue({cat.MEASURE_POPULATION: len(b.first_days)}, rounded(median(b.first_days))),
            "p90": GroupValue({cat.MEASURE_POPULATION: len(b.first_days)}, rounded(percentile(b.first_days, 90))),
        },
        "hgw-kpi-new-patients-waiting": {"waiting": GroupValue({cat.INITIAL: b.waiting})},
        "hgw-kpi-on-time-delivery": {
            "on-agreed-date": GroupValue(
                {
                    cat.INITIAL: b.made,
                    cat.DENOMINATOR_EXCLUSION: b.no_agreed_date,
                    cat.DENOMINATOR: b.made - b.no_agreed_date,
                    cat.NUMERATOR: b.on_date,
                },
                per_100(b.on_date, b.made - b.no_agreed_date),
            )
        },
        "hgw-kpi-failed-deliveries": {
            party: GroupValue(
                {cat.DENOMINATOR: b.outcomes, cat.NUMERATOR: b.failed.get(party, 0)},
                per_100(b.failed.get(party, 0), b.outcomes),
            )
            for party in ("all", "provider", "patient", "trust", "unattributed")
        },
        "hgw-kpi-cancellations": {
            "cancellations": _rate(b.cancellations, b.received),
            "amendments": _rate(b.amendments, b.received),
        },
        "hgw-kpi-returns": {"returns": _rate(b.returns, b.received)},
        "hgw-kpi-clinical-queries": {"clinical-queries": _rate(b.queries, b.received)},
    }
    if snapshot:
        out["hgw-kpi-patients-at-risk"] = {"at-risk": GroupValue({cat.INITIAL: b.patients_at_risk})}
        out["hgw-kpi-prescriptions-at-risk"] = {"at-risk": GroupValue({cat.INITIAL: b.prescriptions_at_risk})}
    return {m.id: out[m.id] for m in cat.MEASURES if m.id in out}


def _rate(numerator: int, prescriptions: int) -> GroupValue:
    return GroupValue({cat.NUMERATOR: numerator, cat.DENOMINATOR: prescriptions}, per_100(numerator, prescriptions))
