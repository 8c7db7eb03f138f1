"""Who already holds an id: the reads `services/reused_ids.py` needs before an EPS order keeps its own ids."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.tables import FhirMessage, Prescription, PrescriptionItem


async def message_owner(session: AsyncSession, message_id: str) -> FhirMessage | None:
    return await session.get(FhirMessage, message_id)


async def prescriptions_named(session: AsyncSession, prescription_id: str, short_form_id: str) -> list[Prescription]:
    """Prescriptions with this long-form id or this short-form id."""
    query = select(Prescription).where(
        or_(col(Prescription.id) == prescription_id, col(Prescription.short_form_id) == short_form_id)
    )
    return list((await session.exec(query)).all())


async def item_owners(session: AsyncSession, item_ids: list[str]) -> dict[str, str]:
    """Line-item id → the prescription it belongs to, for those of `item_ids` already stored."""
    if not item_ids:
        return {}
    query = select(PrescriptionItem.id, PrescriptionItem.prescription_id).where(col(PrescriptionItem.id).in_(item_ids))
    return {item_id: owner for item_id, owner in (await session.exec(query)).all()}


async def prescription_and_first_message(session: AsyncSession, prescription_id: str) -> tuple[str, str | None]:
    """The short-form id of a prescription and the id of its first message (None when it has none)."""
    short_form = (
        await session.exec(select(Prescription.short_form_id).where(col(Prescription.id) == prescription_id))
    ).first()
    first = (
        await session.exec(
            select(FhirMessage.id)
            .where(col(FhirMessage.prescription_id) == prescription_id)
            .order_by(col(FhirMessage.created_at))
            .limit(1)
        )
    ).first()
    return short_form or prescription_id, first
