"""The SQL behind the supply-continuity KPI (docs/kpis.md): patient-provider pairs whose supply ends in a horizon,
and what is in place to follow it. Like `gateway.store.kpis`, by blind index only, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, tuple_
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import states as lifecycle
from gateway.store.kpis import LIVE, Delivery, Prescription, Scope

BOOKED = ("scheduled", "dispatched")  # a delivery not made yet (ix_delivery_booked)


async def _rows(session: AsyncSession, stmt: Any) -> list[Any]:
    return list((await session.exec(stmt)).all())


@dataclass(frozen=True, slots=True)
class SupplyAtRisk:
    """A patient-provider pair whose supply runs out in the horizon: the supplying prescription's trust, and what
    is in place to follow it."""

    provider_ods: str
    trust_ods: str
    supply_until: date
    stopped: bool  # their latest prescription was cancelled: the treatment was stopped
    delivery_booked: bool  # a delivery is dispatched, or scheduled on or before supply_until
    prescription_to_follow: bool  # a live prescription with deliveries still to make


async def supplies_ending(session: AsyncSession, scope: Scope, first: date, last: date) -> list[SupplyAtRisk]:
    """Patient-provider pairs (by blind index) whose supply (the latest `supply_until` of their prescriptions) ends
    on a day in [first, last]."""
    p, later = aliased(Prescription), aliased(Prescription)
    # A pair's latest supply ends in [first, last] when one of its prescriptions' does and none's ends later: found
    # from the prescriptions ending in the horizon (an index range), not by grouping every prescription. Its end is
    # the latest of those, its trust that of the one (the first by code, if several) ending then.
    in_range = (
        select(
            p.nhs_index,
            p.provider_ods,
            p.trust_ods,
            p.supply_until,
            func.max(p.supply_until).over(partition_by=(p.nhs_index, p.provider_ods)).label("pair_end"),
        )
        .where(
            *Scope(provider_ods=scope.provider_ods).where(p),
            p.supply_until >= first,
            p.supply_until <= last,
            ~exists().where(
                later.nhs_index == p.nhs_index, later.provider_ods == p.provider_ods, later.supply_until > last
            ),
        )
        .subquery("in_range")
    )
    r = in_range.c
    pairs = (
        select(r.nhs_index, r.provider_ods, r.pair_end.label("supply_until"), func.min(r.trust_ods).label("trust_ods"))
        .where(r.supply_until == r.pair_end)
        .group_by(r.nhs_index, r.provider_ods, r.pair_end)
        .subquery("pairs")
    )
    # What is in place to follow, each from the few rows that can say so rather than every prescription of every
    # pair: the pairs whose latest prescription was cancelled (no later one received), the pairs with a live
    # prescription still to deliver, and per pair the deliveries not made yet (ix_delivery_booked).
    c, newer, t, u = (aliased(Prescription) for _ in range(4))
    stopped = select(c.nhs_index, c.provider_ods).where(
        c.status == lifecycle.CANCELLED,
        ~exists().where(
            newer.nhs_index == c.nhs_index, newer.provider_ods == c.provider_ods, newer.created_at > c.created_at
        ),
    )
    follows = select(u.nhs_index, u.provider_ods).where(u.status.in_(LIVE), u.deliveries_made < u.deliveries_authorised)
    d = Delivery
    pending = (
        select(
            t.nhs_index,
            t.provider_ods,
            func.max(case((d.state == "dispatched", 1), else_=0)).label("in_transit"),
            func.min(case((d.state == "scheduled", d.scheduled_date))).label("earliest"),
        )
        .join(d, d.prescription_id == t.id)
        .where(d.state.in_(BOOKED))
        .group_by(t.nhs_index, t.provider_ods)
        .subquery("pending")
    )
    pair = tuple_(pairs.c.nhs_index, pairs.c.provider_ods)
    stmt = (
        select(
            pairs.c.provider_ods,
            pairs.c.trust_ods,
            pairs.c.supply_until,
            pair.in_(stopped),
            or_(pending.c.in_transit == 1, pending.c.earliest <= pairs.c.supply_until),
            pair.in_(follows),
        )
        .select_from(pairs)
        .outerjoin(
            pending, and_(pending.c.nhs_index == pairs.c.nhs_index, pending.c.provider_ods == pairs.c.provider_ods)
        )
    )
    rows = await _rows(session, stmt)
    found = [SupplyAtRisk(str(a), str(b), c, bool(d), bool(e), bool(f)) for a, b, c, d, e, f in rows]
    return [f for f in found if scope.trust_ods is None or f.trust_ods == scope.trust_ods]
