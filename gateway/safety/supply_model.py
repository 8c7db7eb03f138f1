"""The supply model: from what the store knew at a cutoff (`gateway.store.supply_facts.Facts`), each treatment's
supply end, whether a confirmed delivery covers it, and when not, why and who must act. Pure and synchronous, so
that it runs in a worker thread; the same facts give the same answer, so a past date's list can be recomputed.

A treatment is one patient's medicine from one trust: the prescriptions sharing the NHS-number blind index, the
trust and the dm+d code of the first line. Amendments and renewals continue it; docs/patient-safety.md.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from gateway.domain.risk_reasons import CODES, REASONS, Owner
from gateway.fhir.datatypes import UK_TIME
from gateway.store.supply_facts import ChangeFact, EventFact, Facts, RxFact

LAPSED_DAYS = 28
"""A supply that ended more than this many days before the day measured is a treatment that ended, not a risk."""




@dataclass(frozen=True, slots=True)
class AtRisk:
    treatment: str  # SHA-256 of blind index, trust and medicine: no patient data
    prescription_id: str
    short_form_id: str
    trust_ods: str
    provider_ods: str | None
    supply_ends: date
    days_left: int
    reasons: tuple[str, ...]

    @property
    def owner(self) -> Owner:
        return REASONS[self.reasons[0]].owner

    @property
    def action(self) -> str:
        return REASONS[self.reasons[0]].action


@dataclass
class _Rx:
    """One prescription as of the cutoff."""

    fact: RxFact
    provider: str | None = None
    order: str | None = None  # sent, acknowledged, rejected, dead
    ended: str | None = None  # cancelled or expired
    open_queries: int = 0
    plan: ChangeFact | None = None
    deliveries: dict[int, ChangeFact] = field(default_factory=dict)  # latest report per delivery number
    delivered: set[int] = field(default_factory=set)
    supply_ends: date | None = None  # from deliveries made

    def apply(self, e: EventFact) -> None:
        kind = e.kind
        if kind == "queued":
            self.provider, self.order = e.actor_ods, "sent"
        elif kind == "held":
            self.provider, self.order = None, None
        elif kind == "replayed":
            self.order = "sent"
        elif kind == "acknowledged" and self.order in ("sent", "dead", None):
            self.order = "acknowledged"
        elif kind == "provider-rejected":
            self.order = "rejected"
        elif kind == "push-failed" and self.order == "sent":
            self.order = "dead"
        elif kind in ("cancelled", "expired"):
            self.ended = kind
        elif kind == "query-raised":
            self.open_queries += 1
        elif kind == "query-answered":
            self.open_queries = max(0, self.open_queries - 1)

    def record(self, c: ChangeFact) -> None:
        if c.kind == "prescribed":
            self.plan = c
            return
        self.deliveries[c.delivery_number] = c
        if c.kind == "delivered" and c.delivered_on is not None:
            self.delivered.add(c.delivery_number)
            ends = c.delivered_on + timedelta(days=c.days_supply or 0)
            self.supply_ends = max(self.supply_ends or ends, ends)

    @property
    def remaining(self) -> int:
        return self.fact.deliveries_authorised - len(self.delivered)

    def first_needed(self) -> date:
        """A new patient needs the medicine from the first delivery date, or at once when none is given."""
        if self.plan is not None and self.plan.scheduled_date is not None:
            return self.plan.scheduled_date
        return self.fact.created_at.astimezone(UK_TIME).date()


def treatment_key(rx: RxFact) -> str:
    return hashlib.sha256(f"{rx.nhs_index}|{rx.trust_ods}|{rx.medicine}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Days of supply left at which a treatment is at risk: per service type, else the default."""

    default: int = 7
    by_service: dict[str, int] = field(default_factory=dict)

    def days(self, service_type: str | None) -> int:
        return self.by_service.get(service_type or "", self.default)


def at_risk(facts: Facts, day: date, thresholds: Thresholds, *, days: int | None = None) -> list[AtRisk]:
    """The treatments at risk on `day` (UK date) as the facts stand, by days left then prescription. `days`
    replaces every threshold when given."""
    rxs = {f.id: _Rx(f) for f in facts.prescriptions}
    for e in facts.events:
        if e.prescription_id in rxs:
            rxs[e.prescription_id].apply(e)
    for c in facts.changes:
        if c.prescription_id in rxs:
            rxs[c.prescription_id].record(c)
    treatments: dict[str, list[_Rx]] = defaultdict(list)
    for rx in rxs.values():  # oldest first
        treatments[treatment_key(rx.fact)].append(rx)
    found = []
    for key, group in treatments.items():
        entry = _assess(
            key, group, facts, day, days if days is not None else thresholds.days(group[-1].fact.service_type)
        )
        if entry is not None:
            found.append(entry)
    return sorted(found, key=lambda r: (r.days_left, r.short_form_id))


def _assess(key: str, group: list[_Rx], facts: Facts, day: date, threshold: int) -> AtRisk | None:
    live = [rx for rx in group if rx.ended is None]
    current = live[-1] if live else group[-1]
    made = [rx.supply_ends for rx in group if rx.supply_ends is not None]
    supply_ends = max(made) if made else current.first_needed()
    days_left = (supply_ends - day).days
    if days_left > threshold or days_left < -LAPSED_DAYS:
        return None
    if _covered(group, supply_ends):
        return None
    reasons = _reasons(current, live, facts)
    return AtRisk(
        key,
        current.fact.id,
        current.fact.short_form_id,
        current.fact.trust_ods,
        current.provider,
        supply_ends,
        days_left,
        tuple(sorted(reasons, key=CODES.index)),
    )


def _covered(group: list[_Rx], supply_ends: date) -> bool:
    """A delivery on its way, or scheduled on or before the supply's end, by any prescription of the treatment."""
    for rx in group:
        if rx.ended is not None:
            continue
        for number, c in rx.deliveries.items():
            if number in rx.delivered:
                continue
            if c.kind == "dispatched" or (
                c.kind == "scheduled" and c.scheduled_date is not None and c.scheduled_date <= supply_ends
            ):
                return True
    return False


def _reasons(current: _Rx, live: list[_Rx], facts: Facts) -> set[str]:
    if not live:
        return {"prescription-renewal-due" if current.ended == "expired" else "cancelled-without-replacement"}
    reasons: set[str] = set()
    provider = current.provider
    if provider is None:
        reasons.add("held-unrouted")
    else:
        if provider in facts.paused:
            reasons.add("provider-paused")
        if provider in facts.unreachable:
            reasons.add("provider-unreachable")
        reasons.add(
            {
                "dead": "dead-lettered",
                "rejected": "rejected-by-provider",
                "sent": "order-not-acknowledged",
                None: "order-not-acknowledged",
            }.get(current.order, "")
        )
    if current.open_queries:
        reasons.add("clinical-query-open")
    if current.order == "acknowledged" and provider is not None:
        states = {c.kind for n, c in current.deliveries.items() if n not in current.delivered}
        if current.remaining <= 0:
            reasons.add("prescription-renewal-due")
        elif states & {"failed", "returned"}:
            reasons.add("delivery-failed")
        else:
            reasons.add("delivery-not-scheduled")
    reasons.discard("")
    return reasons
