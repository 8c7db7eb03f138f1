"""The SQL behind the supply-continuity KPI (docs/kpis.md): patient-provider pairs whose supply ends in a horizon,
and what is in place to follow it. Like `gateway.store.kpis`, by blind index only, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, type_coerce
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import states as lifecycle
from gateway.store.columns import UTCDateTime
from gateway.store.kpis import LIVE, Delivery, Prescription, Scope


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
    p, q, later = aliased(Prescription), aliased(Prescription), aliased(Prescription)
    provider_scope = Scope(provider_ods=scope.provider_ods)
    # A pair's latest supply ends in [first, last] when one of its prescriptions' does and none's ends later: found
    # from the prescriptions ending in the horizon (an index range), not by grouping every prescription.
    ending = (
        select(p.nhs_index, p.provider_ods)
        .where(
            *provider_scope.where(p),
            p.supply_until >= first,
            p.supply_until <= last,
            ~exists().where(
                later.nhs_index == p.nhs_index, later.provider_ods == p.provider_ods, later.supply_until > last
            ),
        )
        .distinct()
        .subquery("ending")
    )
    pairs = (
        select(
            q.nhs_index,
            q.provider_ods,
            func.max(q.supply_until).label("supply_until"),
            type_coerce(func.max(q.created_at), UTCDateTime()).label("latest_at"),
        )
        .join(ending, and_(ending.c.nhs_index == q.nhs_index, ending.c.provider_ods == q.provider_ods))
        .group_by(q.nhs_index, q.provider_ods)
        .subquery("pairs")
    )

    def same_pair(q: Any) -> ColumnElement[bool]:
        return and_(q.nhs_index == pairs.c.nhs_index, q.provider_ods == pairs.c.provider_ods)

    r, s, t, u = (aliased(Prescription) for _ in range(4))
    trust = select(func.min(r.trust_ods)).where(same_pair(r), r.supply_until == pairs.c.supply_until)
    stopped = exists().where(same_pair(s), s.created_at == pairs.c.latest_at, s.status == lifecycle.CANCELLED)
    booked = exists().where(
        same_pair(t),
        Delivery.prescription_id == t.id,
        or_(
            Delivery.state == "dispatched",
            and_(Delivery.state == "scheduled", Delivery.scheduled_date <= pairs.c.supply_until),
        ),
    )
    follows = exists().where(same_pair(u), u.status.in_(LIVE), u.deliveries_made < u.deliveries_authorised)
    stmt = select(
        pairs.c.provider_ods, trust.scalar_subquery(), pairs.c.supply_until, stopped, booked, follows
    ).select_from(pairs)
    rows = await _rows(session, stmt)
    found = [SupplyAtRisk(str(a), str(b), c, bool(d), bool(e), bool(f)) for a, b, c, d, e, f in rows]
    return [f for f in found if scope.trust_ods is None or f.trust_ods == scope.trust_ods]
