"""Reading invoices back: the JSON the trust, the provider and operators see, and the FHIR Invoice with its status.

Tenancy: a provider sees only the invoices it sent, a trust only those billed to it, an operator all; another
tenant's invoice answers exactly as one that does not exist (404).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Final

from gateway.context import Gateway
from gateway.domain.principal import READ, UPDATE, Principal, Role, require_role
from gateway.errors import InputError, Issue, Location, NotFoundError
from gateway.fhir.urls import HOMECARE_BASE
from gateway.invoicing.fhir_invoice import INVOICE_NUMBER, ODS
from gateway.invoicing.money import pounds
from gateway.store import invoices as store
from gateway.store import repository
from gateway.store.invoice_tables import FHIR_STATUS, Invoice, InvoiceLine

STATUSES: Final = ("pending", "approved", "disputed", "part-approved")
RESULT_SYSTEM: Final = f"{HOMECARE_BASE}/CodeSystem/homecare-invoice-line-result"


def scope_of(principal: Principal | None) -> dict[str, str | None]:
    """The invoices a caller may see, as filters: its own side of the bill, or everything for an operator (and
    for the console and command line, which pass None)."""
    if principal is None:
        return {}
    if principal.role is Role.PROVIDER:
        require_role(principal, Role.PROVIDER, scopes=UPDATE)
        return {"provider_ods": principal.ods}
    require_role(principal, Role.TRUST, Role.OPERATOR, scopes=READ)
    return {"trust_ods": principal.ods} if principal.role is Role.TRUST else {}


def may_see(principal: Principal, invoice: Invoice) -> bool:
    scope = scope_of(principal)
    return all(getattr(invoice, name) == value for name, value in scope.items())


def line_json(line: InvoiceLine) -> dict[str, Any]:
    return {
        "line": line.line_no,
        "prescription": line.short_form_id,
        "line_item": line.line_item_id,
        "delivery": line.delivery_number,
        "delivery_date": line.delivery_date.isoformat() if line.delivery_date else None,
        "kind": line.kind,
        "code": line.code,
        "quantity": line.quantity,
        "unit_price": pounds(line.unit_price_pence),
        "net": pounds(line.net_pence),
        "vat_rate": line.vat_rate,
        "vat": pounds(line.vat_pence),
        "result": line.result,
        "expected": json.loads(line.expected),
        "seen": json.loads(line.seen),
        "decision": line.decision,
        "reason": line.decision_reason,
    }


def invoice_json(invoice: Invoice, lines: list[InvoiceLine]) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "provider": invoice.provider_ods,
        "trust": invoice.trust_ods,
        "source": invoice.source,
        "reference": invoice.reference,
        "issued": invoice.issued.isoformat(),
        "status": invoice.status,
        "net": pounds(invoice.net_pence),
        "vat": pounds(invoice.vat_pence),
        "total": pounds(invoice.total_pence),
        "total_pence": invoice.total_pence,
        "received_at": invoice.created_at.isoformat(),
        "lines": [line_json(line) for line in lines],
    }


async def list_invoices(
    gw: Gateway, principal: Principal | None, *, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The caller's invoices, newest first, each with its lines."""
    scope = scope_of(principal)
    if status is not None and status not in STATUSES:
        where = Location(path="status")
        raise InputError(
            [Issue("INVALID_VALUE", "unknown invoice status", where, value=status[:20], expected=", ".join(STATUSES))]
        )
    async with gw.sessions() as session:
        invoices = await store.list_invoices(session, status=status, limit=limit, **scope)
        lines = await store.lines_of(session, [i.id for i in invoices])
    by_invoice: dict[str, list[InvoiceLine]] = {}
    for line in lines:
        by_invoice.setdefault(line.invoice_id, []).append(line)
    return [invoice_json(i, by_invoice.get(i.id, [])) for i in invoices]


async def get_invoice(gw: Gateway, principal: Principal, invoice_id: str) -> tuple[Invoice, list[InvoiceLine]]:
    """One invoice and its lines; NotFoundError when there is none the caller may see."""
    scope_of(principal)
    async with gw.sessions() as session:
        invoice = await repository.get_by_id(session, Invoice, invoice_id[:36])
        if invoice is None or not may_see(principal, invoice):
            raise NotFoundError(f"no invoice {invoice_id[:36]}")
        return invoice, await store.lines_of(session, [invoice.id])


def _money(pence: int) -> Decimal:
    return Decimal(pounds(pence))


def fhir_invoice(invoice: Invoice, lines: list[InvoiceLine]) -> dict[str, Any]:
    """The invoice as the provider gets it back: Invoice.status from the trust's decisions, each line's result and
    decision in the HomecareInvoiceOutcome extension, and a contained OperationOutcome naming disputed lines."""
    disputed = [line for line in lines if line.decision == "disputed"]
    outcome = {
        "resourceType": "OperationOutcome",
        "id": "outcome",
        "issue": [
            {
                "severity": "error",
                "code": "business-rule",
                "details": {"coding": [{"system": RESULT_SYSTEM, "code": line.result}]},
                "diagnostics": f"line {line.line_no} disputed: {line.decision_reason or line.result}",
                "expression": [f"Invoice.lineItem[{line.line_no - 1}]"],
            }
            for line in disputed
        ]
        or [{"severity": "information", "code": "informational", "diagnostics": f"invoice {invoice.status}"}],
    }
    return {
        "resourceType": "Invoice",
        "id": invoice.id,
        "contained": [outcome],
        "identifier": [{"system": INVOICE_NUMBER, "value": invoice.reference}],
        "status": FHIR_STATUS[invoice.status],
        "date": invoice.issued.isoformat(),
        "issuer": {"identifier": {"system": ODS, "value": invoice.provider_ods}},
        **({"recipient": {"identifier": {"system": ODS, "value": invoice.trust_ods}}} if invoice.trust_ods else {}),
        "lineItem": [
            {
                "extension": [
                    {
                        "url": f"{HOMECARE_BASE}/StructureDefinition/Extension-HomecareInvoiceOutcome",
                        "extension": [
                            {"url": "result", "valueCoding": {"system": RESULT_SYSTEM, "code": line.result}},
                            {"url": "decision", "valueCode": line.decision},
                        ],
                    }
                ],
                "sequence": line.line_no,
                "chargeItemCodeableConcept": {"text": line.code},
                "priceComponent": [
                    {"type": "base", "amount": {"value": _money(line.net_pence), "currency": "GBP"}},
                    {"type": "tax", "amount": {"value": _money(line.vat_pence), "currency": "GBP"}},
                ],
            }
            for line in lines
        ],
        "totalNet": {"value": _money(invoice.net_pence), "currency": "GBP"},
        "totalGross": {"value": _money(invoice.total_pence), "currency": "GBP"},
    }
