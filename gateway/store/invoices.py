"""SQL for invoicing: the facts reconciliation needs, earlier bills, invoices and lines, and spend sums."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.fhir.datatypes import UK_TIME
from gateway.store.invoice_tables import Invoice, InvoiceLine, PriceEntry
from gateway.store.tables import Delivery, Prescription, PrescriptionItem


@dataclass(frozen=True, slots=True)
class ItemFacts:
    dmd_code: str
    quantity: Decimal  # per delivery


@dataclass(frozen=True, slots=True)
class DeliveryFacts:
    state: str
    delivered_on: date | None


@dataclass(frozen=True, slots=True)
class PrescriptionFacts:
    """What the gateway knows of one prescription sent to the provider billing it."""

    prescription_id: str
    short_form_id: str
    trust_ods: str
    status: str
    items: Mapping[str, ItemFacts]
    deliveries: Mapping[int, DeliveryFacts]


def _lock_key(provider_ods: str) -> int:
    digest = hashlib.sha256(f"hgw-invoice:{provider_ods}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def hold_invoicing(session: AsyncSession, provider_ods: str) -> None:
    """Serialise a provider's invoice intake (PostgreSQL advisory lock; SQLite writers are serialised already),
    so two invoices billing the same delivery at once cannot both miss the other: one of them is a duplicate."""
    if (await session.connection()).dialect.name != "postgresql":
        return
    await session.exec(select(func.pg_advisory_xact_lock(_lock_key(provider_ods))))


def _quantity(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(0)


async def prescription_facts(
    session: AsyncSession, provider_ods: str, short_form_ids: Collection[str]
) -> dict[str, PrescriptionFacts]:
    """Each named prescription that was sent to `provider_ods`, with its line items and deliveries."""
    if not short_form_ids:
        return {}
    found = (
        await session.exec(
            select(Prescription).where(
                col(Prescription.short_form_id).in_(set(short_form_ids)), Prescription.provider_ods == provider_ods
            )
        )
    ).all()
    ids = [p.id for p in found]
    items = (await session.exec(select(PrescriptionItem).where(col(PrescriptionItem.prescription_id).in_(ids)))).all()
    deliveries = (await session.exec(select(Delivery).where(col(Delivery.prescription_id).in_(ids)))).all()
    out = {}
    for p in found:
        out[p.short_form_id] = PrescriptionFacts(
            prescription_id=p.id,
            short_form_id=p.short_form_id,
            trust_ods=p.trust_ods,
            status=p.status,
            items={i.id: ItemFacts(i.dmd_code, _quantity(i.quantity)) for i in items if i.prescription_id == p.id},
            deliveries={
                d.number: DeliveryFacts(d.state, d.delivered_at.astimezone(UK_TIME).date() if d.delivered_at else None)
                for d in deliveries
                if d.prescription_id == p.id
            },
        )
    return out


async def billed_keys(session: AsyncSession, prescription_ids: Collection[str]) -> dict[str, str]:
    """bill key → reference of the invoice that billed it, for every line not disputed of these prescriptions."""
    if not prescription_ids:
        return {}
    rows = (
        await session.exec(
            select(InvoiceLine.bill_key, Invoice.reference)
            .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
            .where(
                col(InvoiceLine.prescription_id).in_(set(prescription_ids)),
                col(InvoiceLine.bill_key).is_not(None),
                InvoiceLine.decision != "disputed",
            )
        )
    ).all()
    return {key: ref for key, ref in rows if key}


async def price_entries(session: AsyncSession, provider_ods: str, trust_ods: Collection[str]) -> list[PriceEntry]:
    if not trust_ods:
        return []
    stmt = select(PriceEntry).where(PriceEntry.provider_ods == provider_ods, col(PriceEntry.trust_ods).in_(trust_ods))
    return list((await session.exec(stmt)).all())


async def invoice_by_reference(session: AsyncSession, provider_ods: str, reference: str) -> Invoice | None:
    stmt = select(Invoice).where(Invoice.provider_ods == provider_ods, Invoice.reference == reference)
    return (await session.exec(stmt)).first()


async def lines_of(session: AsyncSession, invoice_ids: Collection[str]) -> list[InvoiceLine]:
    if not invoice_ids:
        return []
    stmt = (
        select(InvoiceLine)
        .where(col(InvoiceLine.invoice_id).in_(set(invoice_ids)))
        .order_by(col(InvoiceLine.invoice_id), col(InvoiceLine.line_no))
    )
    return list((await session.exec(stmt)).all())


async def list_invoices(
    session: AsyncSession,
    *,
    provider_ods: str | None = None,
    trust_ods: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[Invoice]:
    """Invoices newest first, narrowed to a provider, a trust and a status when given."""
    stmt = select(Invoice).order_by(col(Invoice.created_at).desc(), col(Invoice.id)).limit(limit)
    if provider_ods:
        stmt = stmt.where(Invoice.provider_ods == provider_ods)
    if trust_ods:
        stmt = stmt.where(Invoice.trust_ods == trust_ods)
    if status:
        stmt = stmt.where(Invoice.status == status)
    return list((await session.exec(stmt)).all())


async def spend_lines(
    session: AsyncSession,
    *,
    month_from: str,
    month_to: str,
    trust_ods: str | None = None,
    provider_ods: str | None = None,
) -> list[Any]:
    """(trust, provider, month, kind, code, decision, quantity, net, vat) of every line of a known trust in
    [month_from, month_to]; quantities are exact decimals as text, so they are summed by the caller."""
    line: Any = InvoiceLine  # untyped: the query builder's overloads reject SQLModel's typed columns
    stmt: Any = columns(
        line.trust_ods,
        line.provider_ods,
        line.month,
        line.kind,
        line.code,
        line.decision,
        line.quantity,
        line.net_pence,
        line.vat_pence,
    ).where(col(line.month) >= month_from, col(line.month) <= month_to, col(line.trust_ods).is_not(None))
    if trust_ods:
        stmt = stmt.where(line.trust_ods == trust_ods)
    if provider_ods:
        stmt = stmt.where(line.provider_ods == provider_ods)
    return list((await session.exec(stmt)).all())


async def prices_of_providers(session: AsyncSession, provider_ods: Collection[str]) -> list[PriceEntry]:
    """Every stored price entry of these providers, of every trust (a price-list load checks its periods)."""
    return list((await session.exec(select(PriceEntry).where(col(PriceEntry.provider_ods).in_(provider_ods)))).all())


async def list_prices(
    session: AsyncSession, *, trust_ods: str | None = None, provider_ods: str | None = None
) -> list[PriceEntry]:
    """Price entries by trust, provider, code and period start, narrowed to a trust and a provider when given."""
    query = select(PriceEntry).order_by(
        col(PriceEntry.trust_ods), col(PriceEntry.provider_ods), col(PriceEntry.code), col(PriceEntry.valid_from)
    )
    if trust_ods:
        query = query.where(PriceEntry.trust_ods == trust_ods)
    if provider_ods:
        query = query.where(PriceEntry.provider_ods == provider_ods)
    return list((await session.exec(query)).all())


async def price_list(session: AsyncSession, trust_ods: str, provider_ods: str) -> list[PriceEntry]:
    """One trust–provider price list, by code and period start."""
    stmt = (
        select(PriceEntry)
        .where(PriceEntry.trust_ods == trust_ods, PriceEntry.provider_ods == provider_ods)
        .order_by(col(PriceEntry.code), col(PriceEntry.valid_from))
    )
    return list((await session.exec(stmt)).all())
