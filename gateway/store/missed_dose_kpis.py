"""The rows behind the missed-dose KPIs (docs/kpis.md, section 9): missed doses and patients supplied in a month,
as recorded before a cutoff instant. Ids, codes, dates and blind indexes only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store import supply_tables, tables

MissedDose: Any = supply_tables.MissedDose
SupplyChange: Any = supply_tables.SupplyChange
Prescription: Any = tables.Prescription


@dataclass(frozen=True, slots=True)
class DoseRow:
    provider_ods: str | None
    trust_ods: str
    cause: str
    flagged: bool


@dataclass(frozen=True, slots=True)
class SupplyRow:
    nhs_index: str
    provider_ods: str | None
    trust_ods: str
    delivered_on: date
    days_supply: int


async def missed_doses(
    session: AsyncSession, first: date, following: date, cutoff: datetime, trust: str | None, provider: str | None
) -> list[DoseRow]:
    """Actual missed or late doses that happened on a day in [first, following), recorded before `cutoff`."""
    m = MissedDose
    conditions = [m.actuality == "actual", m.occurred_on >= first, m.occurred_on < following, m.recorded_at < cutoff]
    if trust is not None:
        conditions.append(m.trust_ods == trust)
    if provider is not None:
        conditions.append(m.provider_ods == provider)
    stmt: Any = select(m.provider_ods, m.trust_ods, m.cause, m.flagged).where(and_(*conditions))
    return [DoseRow(*row) for row in (await session.exec(stmt)).all()]


async def supplies(
    session: AsyncSession, first: date, following: date, cutoff: datetime, trust: str | None, provider: str | None
) -> list[SupplyRow]:
    """Deliveries made (recorded before `cutoff`) whose supply may overlap [first, following): delivered before
    `following` and no more than a year before `first`."""
    c, p = SupplyChange, Prescription
    conditions = [
        c.kind == "delivered",
        c.at < cutoff,
        c.delivered_on < following,
        c.delivered_on >= date(first.year - 1, first.month, 1),
    ]
    if trust is not None:
        conditions.append(p.trust_ods == trust)
    if provider is not None:
        conditions.append(c.provider_ods == provider)
    stmt: Any = (
        select(p.nhs_index, c.provider_ods, p.trust_ods, c.delivered_on, c.days_supply)
        .join(p, p.id == c.prescription_id)
        .where(and_(*conditions))
    )
    return [SupplyRow(a, b, t, d, int(n or 0)) for a, b, t, d, n in (await session.exec(stmt)).all()]
