"""Invoicing tables (issue 20): the trust–provider price list, invoices and their reconciled lines.

Money is whole pence in integer columns, never floats; quantities and VAT rates are exact decimals kept as
text. No column holds patient data: a line names a prescription by its short-form id and line-item id only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from gateway.store.columns import utc_timestamp

# Our status → FHIR Invoice.status: an invoice wholly disputed is not owed (cancelled); one part approved is
# still issued, with an OperationOutcome naming the disputed lines.
FHIR_STATUS: Final = {"pending": "issued", "approved": "balanced", "disputed": "cancelled", "part-approved": "issued"}


class PriceEntry(SQLModel, table=True):
    """What a trust pays a provider for one medicine (dm+d code) or service, from `valid_from` to `valid_to`."""

    __tablename__ = "price_entry"
    __table_args__ = (UniqueConstraint("trust_ods", "provider_ods", "code", "valid_from", name="uq_price_entry_from"),)

    id: int | None = Field(default=None, primary_key=True)
    trust_ods: str = Field(max_length=12)
    provider_ods: str = Field(max_length=12, index=True)
    code: str = Field(max_length=40, description="dm+d (SNOMED) code of a medicine, or a service code")
    kind: str = Field(max_length=8, description="medicine or service")
    unit_price_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    service_fee_pence: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False), description="per delivery, for a medicine"
    )
    valid_from: date
    valid_to: date | None = Field(default=None, description="last day in force; blank: open-ended")
    created_at: datetime = Field(sa_column=utc_timestamp())


class Invoice(SQLModel, table=True):
    """A provider's invoice or EPS claim, as received (raw body sealed in inbound_payload) and reconciled."""

    __tablename__ = "invoice"
    __table_args__ = (UniqueConstraint("provider_ods", "reference", name="uq_invoice_reference"),)

    id: str = Field(primary_key=True, max_length=36)
    provider_ods: str = Field(max_length=12, index=True)
    trust_ods: str | None = Field(default=None, max_length=12, index=True, description="blank: no prescription known")
    source: str = Field(max_length=8, description="claim, fhir or csv")
    reference: str = Field(max_length=64, description="the provider's invoice number (a claim: its identifier)")
    inbound_id: str = Field(foreign_key="inbound_payload.id", max_length=36)
    issued: date
    status: str = Field(max_length=16, description="pending, approved, disputed or part-approved")
    net_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    vat_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    total_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=utc_timestamp())
    updated_at: datetime = Field(sa_column=utc_timestamp())


class InvoiceLine(SQLModel, table=True):
    """One billed line, with the reconciliation result (what was expected and seen) and the trust's decision."""

    __tablename__ = "invoice_line"
    __table_args__ = (
        UniqueConstraint("invoice_id", "line_no", name="uq_invoice_line_no"),
        Index("ix_invoice_line_bill_key", "bill_key"),
        Index("ix_invoice_line_spend", "trust_ods", "provider_ods", "month"),
    )

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: str = Field(foreign_key="invoice.id", max_length=36, index=True)
    line_no: int
    provider_ods: str = Field(max_length=12)
    trust_ods: str | None = Field(default=None, max_length=12)
    short_form_id: str = Field(max_length=20)
    prescription_id: str | None = Field(default=None, max_length=36, description="blank: unknown prescription")
    line_item_id: str | None = Field(default=None, max_length=36)
    delivery_number: int | None = None
    delivery_date: date | None = None
    month: str = Field(max_length=7, description="YYYY-MM of the delivery (else of the invoice) for spend")
    kind: str = Field(max_length=8, description="medicine or service")
    code: str = Field(max_length=40, description="dm+d code or service code")
    quantity: str = Field(max_length=24, description="exact decimal")
    unit_price_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    net_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    vat_rate: str = Field(max_length=8, description="percent, exact decimal")
    vat_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    result: str = Field(max_length=24)
    expected: str = Field(description="JSON: what the gateway's record says")
    seen: str = Field(description="JSON: what the line says")
    bill_key: str | None = Field(
        default=None, max_length=120, description="what was billed: the same twice is a duplicate"
    )
    decision: str = Field(default="pending", max_length=12, description="pending, approved or disputed")
    decision_reason: str | None = Field(default=None, max_length=200)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))


class InvoiceEvent(SQLModel, table=True):
    """Something that happened to an invoice that its provider is told of by webhook: today `invoice-decided`, the
    trust's decisions on some of its lines. `lines` is fixed when it happens, so every retry sends the same event;
    it names lines by number and short-form prescription id only (no patient data)."""

    __tablename__ = "invoice_event"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24, description="invoice-decided")
    invoice_id: str = Field(foreign_key="invoice.id", max_length=36, index=True)
    reference: str = Field(max_length=64, description="the provider's invoice number")
    provider_ods: str = Field(max_length=12, index=True)
    trust_ods: str = Field(max_length=12)
    status: str = Field(max_length=16, description="the invoice's status after the event")
    lines: str = Field(description="JSON: each decided line's outcome (line, prescription, decision, reason)")
    pending: int = Field(default=0, description="lines still undecided after the event")
    at: datetime = Field(sa_column=utc_timestamp())
