"""A provider's bill read offline, as the gateway's intake reads it, without storing or reconciling it: the lines
it bills, or the located problems that would refuse it (`hgw invoices read`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from gateway.errors import InputError, Issue, Location
from gateway.invoicing.billed import BilledInvoice
from gateway.invoicing.claim import read_claim
from gateway.invoicing.csv_invoice import parse_csv_invoice
from gateway.invoicing.fhir_invoice import read_fhir_invoice
from gateway.invoicing.money import plain
from gateway.limits import load_json


def read_bill(kind: str, body: bytes, provider_ods: str) -> dict[str, Any]:
    """`{"lines": [...]}` for a bill the gateway would take (`kind`: claim, invoice or csv), else
    `{"issues": [{"message", "location"}, ...]}`."""
    try:
        return {"lines": _lines(_read(kind, body, provider_ods))}
    except InputError as exc:
        return {"issues": [{"message": i.message, "location": i.location.describe()} for i in exc.issues or []]}


def _read(kind: str, body: bytes, provider_ods: str) -> BilledInvoice:
    if kind == "csv":
        return parse_csv_invoice(body, provider_ods)
    resource = load_json(body, parse_float=Decimal)  # bounded: size, depth, width and number length
    if not isinstance(resource, dict):
        raise InputError([Issue("INVALID_JSON", "the bill is not a JSON object", Location(path="body"))])
    if kind == "claim":
        return read_claim(resource, provider_ods, date.today())
    return read_fhir_invoice(resource, provider_ods)


def _lines(bill: BilledInvoice) -> list[dict[str, Any]]:
    return [
        {
            "line_no": line.line_no,
            "location": line.where.describe(),
            "short_form_id": line.short_form_id,
            "line_item": line.line_item_id,
            "delivery": line.delivery_number,
            "kind": line.kind,
            "code": line.code,
            "quantity": plain(line.quantity),
        }
        for line in bill.lines
    ]
