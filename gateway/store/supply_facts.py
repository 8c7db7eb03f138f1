"""What the supply model needs, as the store knew it at a cutoff instant: prescriptions received before it, their
timeline events, supply changes and provider pauses recorded before it, and the alerts open at it. Rows of ids,
codes and dates only; nothing here opens a sealed column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store import rollup_tables, supply_tables, tables

Prescription: Any = tables.Prescription
PrescriptionItem: Any = tables.PrescriptionItem
LifecycleEvent: Any = tables.LifecycleEvent
OutboxEntry: Any = tables.OutboxEntry
Provider: Any = tables.Provider
Alert: Any = tables.Alert
SupplyChange: Any = supply_tables.SupplyChange
ProviderPauseChange: Any = supply_tables.ProviderPauseChange
TreatmentRollup: Any = rollup_tables.TreatmentRollup

# The timeline events that change what the supply model concludes (gateway.safety.supply_model).
EVENT_KINDS = (
    "queued",
    "held",
    "replayed",
    "acknowledged",
    "provider-rejected",
    "push-failed",
    "cancelled",
    "expired",
    "returned",
    "query-raised",
    "query-answered",
)
UNREACHABLE_ALERTS = ("provider-silent",)  # a pull provider not polling; a push provider not answering


@dataclass(frozen=True, slots=True)
class RxFact:
    id: str
    short_form_id: str
    trust_ods: str
    rx_number: str
    service_type: str | None
    nhs_index: str
    medicine: str  # the dm+d code of line 1
    deliveries_authorised: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EventFact:
    prescription_id: str
    at: datetime
    kind: str
    actor_ods: str | None


@dataclass(frozen=True, slots=True)
class ChangeFact:
    prescription_id: str
    kind: str
    delivery_number: int
    scheduled_date: date | None
    delivered_on: date | None
    days_supply: int | None


@dataclass(frozen=True, slots=True)
class Facts:
    cutoff: datetime
    prescriptions: list[RxFact]
    events: list[EventFact]  # oldest first
    changes: list[ChangeFact]  # oldest first
    paused: frozenset[str]  # providers paused at the cutoff
    unreachable: frozenset[str]  # providers with an unreachable alert open at the cutoff


async def _rows(session: AsyncSession, stmt: Any) -> Sequence[Any]:
    return list((await session.exec(stmt)).all())


async def load(
    session: AsyncSession,
    cutoff: datetime,
    *,
    trust_ods: str | None = None,
    provider_ods: str | None = None,
    supply_ending: tuple[date, date] | None = None,
) -> Facts:
    """Everything recorded before `cutoff` about the prescriptions of `trust_ods` (when given) and of the patients
    with an order routed to `provider_ods` (when given); with `supply_ending` (first, last), only of the treatments
    that, as rolled up now (`treatment_rollup`), can be at risk: no delivery made yet, or a supply ending on a day in
    [first, last] that no booked delivery covers (`gateway.safety.supply_model._covered`)."""
    p, item = Prescription, PrescriptionItem
    line_1 = and_(item.prescription_id == p.id, item.line_no == 1)
    conditions: list[Any] = [p.created_at < cutoff]
    if supply_ending is not None:
        # From the few treatments that can be at risk to their prescriptions (ix_prescription_treatment), not the
        # other way round.
        t = candidates(*supply_ending)
        conditions += [t.c.nhs_index == p.nhs_index, t.c.trust_ods == p.trust_ods, t.c.medicine == item.dmd_code]
    if trust_ods is not None:
        conditions.append(p.trust_ods == trust_ods)
    if provider_ods is not None:
        q = tables.Prescription.__table__.alias("routed")  # type: ignore[attr-defined]
        conditions.append(
            exists().where(
                q.c.nhs_index == p.nhs_index,
                OutboxEntry.prescription_id == q.c.id,
                OutboxEntry.provider_ods == provider_ods,
                OutboxEntry.created_at < cutoff,
            )
        )
    stmt = (
        select(
            p.id,
            p.short_form_id,
            p.trust_ods,
            p.rx_number,
            p.service_type,
            p.nhs_index,
            PrescriptionItem.dmd_code,
            p.deliveries_authorised,
            p.created_at,
        )
        .join(item, line_1)
        .where(*conditions)
        .order_by(p.created_at, p.id)
    )
    prescriptions = [RxFact(*row) for row in await _rows(session, stmt)]
    ids = select(p.id).join(item, line_1).where(*conditions)
    e = LifecycleEvent
    events = [
        EventFact(*row)
        for row in await _rows(
            session,
            select(e.prescription_id, e.at, e.kind, e.actor_ods)
            .where(e.prescription_id.in_(ids), e.kind.in_(EVENT_KINDS), e.at < cutoff)
            .order_by(e.at, e.id),
        )
    ]
    changes = [ChangeFact(*row) for row in await _rows(session, _changes(ids, cutoff))]
    return Facts(
        cutoff, prescriptions, events, changes, await paused_at(session, cutoff), await _unreachable(session, cutoff)
    )


def candidates(first: date, last: date) -> Any:
    """The treatments that, as rolled up now, can be at risk with a supply ending in [first, last]: no delivery made
    yet, or a supply ending then that no delivery in transit or scheduled on or before its end covers."""
    t = TreatmentRollup
    return (
        select(t.nhs_index, t.trust_ods, t.medicine)
        .where(
            or_(
                t.supply_ends.is_(None),
                and_(
                    t.supply_ends >= first,
                    t.supply_ends <= last,
                    t.in_transit.is_(False),
                    or_(t.booked_for.is_(None), t.booked_for > t.supply_ends),
                ),
            )
        )
        .subquery("candidates")
    )


def _changes(ids: Any, cutoff: datetime) -> Any:
    """The supply changes before `cutoff` of the prescriptions `ids` selects, oldest first, leaving out the reports
    a later one about the same delivery (or a later plan) replaced, unless they record a delivery made: replayed in
    order, what is left gives `gateway.safety.supply_model` the same plan, latest report per delivery, deliveries
    made and supply end as every change would, from about a third of the rows."""
    c = SupplyChange
    newest = (
        func.row_number()
        .over(
            partition_by=(c.prescription_id, c.kind == "prescribed", c.delivery_number),
            order_by=(c.at.desc(), c.id.desc()),
        )
        .label("newest")
    )
    ranked = (
        select(
            c.id,
            c.at,
            c.prescription_id,
            c.kind,
            c.delivery_number,
            c.scheduled_date,
            c.delivered_on,
            c.days_supply,
            newest,
        )
        .where(c.prescription_id.in_(ids), c.at < cutoff)
        .subquery("ranked")
    )
    r = ranked.c
    return (
        select(r.prescription_id, r.kind, r.delivery_number, r.scheduled_date, r.delivered_on, r.days_supply)
        .where(or_(r.newest == 1, and_(r.kind == "delivered", r.delivered_on.is_not(None))))
        .order_by(r.at, r.id)
    )


async def paused_at(session: AsyncSession, cutoff: datetime) -> frozenset[str]:
    """Providers paused at `cutoff`: the last pause change before it; a provider with no recorded change (paused
    before the history was kept) counts as it is now."""
    h = ProviderPauseChange
    history: dict[str, bool] = {}
    for ods, paused in await _rows(session, select(h.provider_ods, h.paused).where(h.at < cutoff).order_by(h.at, h.id)):
        history[str(ods)] = bool(paused)
    recorded = select(h.provider_ods)
    current = await _rows(session, select(Provider.ods).where(Provider.paused.is_(True), Provider.ods.not_in(recorded)))
    return frozenset({ods for ods, paused in history.items() if paused} | {str(ods) for (ods,) in current})


async def _unreachable(session: AsyncSession, cutoff: datetime) -> frozenset[str]:
    a = Alert
    stmt = select(a.subject).where(
        a.kind.in_(UNREACHABLE_ALERTS),
        a.opened_at < cutoff,
        or_(a.resolved_at.is_(None), a.resolved_at >= cutoff),
    )
    return frozenset(str(s) for (s,) in await _rows(session, stmt))
