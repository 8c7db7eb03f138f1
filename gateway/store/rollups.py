"""Reading the roll-ups of `gateway.store.rollup_tables` (kept by migration 0024's triggers): what the monthly KPIs
and the at-risk list read instead of every timeline event ever stored.

Each read narrows by a roll-up and then hands the same rows as the from-scratch query to the same pure code, so the
answer cannot differ: the new-patient KPIs get every prescription of the patient-provider pairs that can count this
month (a pair is all in or all out), the at-risk list every prescription of the treatments whose supply can end in
its window (likewise).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store import rollup_tables, supply_tables, tables
from gateway.store.kpis import HeldPrescription, Scope

PrescriptionRollup: Any = rollup_tables.PrescriptionRollup
SupplyChange: Any = supply_tables.SupplyChange
LifecycleEvent: Any = tables.LifecycleEvent
STOPPED = ("cancelled", "expired")  # the events that end a prescription's bookings (migration 0024)


async def held_prescriptions(session: AsyncSession, scope: Scope, relevant_from: datetime) -> list[HeldPrescription]:
    """The prescriptions with a provider in the provider scope, of every patient-provider pair whose first delivery
    was not made before `relevant_from` (None made yet, or made since): the only pairs
    `gateway.store.kpis.first_deliveries` can count for a month starting then, or waiting since then."""
    r, other = PrescriptionRollup, aliased(PrescriptionRollup)
    in_scope = Scope(provider_ods=scope.provider_ods).where(r)
    earlier = exists().where(
        other.nhs_index == r.nhs_index,
        other.provider_ods == r.provider_ods,
        other.first_delivered_at < relevant_from,
    )
    pairs = (
        select(r.nhs_index, r.provider_ods)
        .where(
            *in_scope,
            or_(r.first_delivered_at.is_(None), r.first_delivered_at >= relevant_from),
            ~earlier,
        )
        .distinct()
        .subquery("pairs")
    )
    stmt: Any = select(
        r.nhs_index, r.provider_ods, r.trust_ods, r.created_at, r.acknowledged, r.ended_at, r.first_delivered_at
    ).join(pairs, and_(pairs.c.nhs_index == r.nhs_index, pairs.c.provider_ods == r.provider_ods))
    rows: list[Any] = list((await session.exec(stmt)).all())
    return [HeldPrescription(a, b, c, d, bool(f), g, h) for a, b, c, d, f, g, h in rows]


async def recorded_from(session: AsyncSession, cutoff: datetime) -> bool:
    """Whether a supply change, a cancellation or an expiry was recorded at or after `cutoff`: if not, the
    treatments' supply ends and bookings rolled up now are also those as of `cutoff`."""
    c, e = SupplyChange, LifecycleEvent
    checks: list[Any] = [
        select(c.id).where(c.at >= cutoff).limit(1),
        select(e.id).where(e.kind.in_(STOPPED), e.at >= cutoff).limit(1),  # ix_lifecycle_event_kind_at
    ]
    for stmt in checks:
        found: list[Any] = list((await session.exec(stmt)).all())
        if found:
            return True
    return False
