"""SQL for routing administration (gateway/operations/admin.py). The caller owns the transaction."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.orm import defer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain import states as lifecycle
from gateway.store.tables import Prescription


async def held_prescriptions(session: AsyncSession, *, limit: int) -> list[Prescription]:
    """Prescriptions with no provider that are still to be dispensed (held for a route), oldest change first.
    Their sealed canonical form is not loaded."""
    stmt = (
        select(Prescription)
        .where(col(Prescription.provider_ods).is_(None), Prescription.status == lifecycle.TO_BE_DISPENSED)
        .options(defer(inspect(Prescription).attrs["canonical_enc"].class_attribute, raiseload=True))
        .order_by(col(Prescription.updated_at), col(Prescription.id))
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def lock_held(session: AsyncSession, prescription_id: str) -> Prescription | None:
    """The prescription, locked for this transaction (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises
    writers), if it is still held: so two operators routing held prescriptions at once queue one order."""
    stmt = (
        select(Prescription)
        .where(
            Prescription.id == prescription_id,
            col(Prescription.provider_ods).is_(None),
            Prescription.status == lifecycle.TO_BE_DISPENSED,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.exec(stmt)).first()
