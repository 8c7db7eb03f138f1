"""Provider-side invoices for simulations, conformance and tests: one billed line per delivered line item, written
as a CSV invoice, a FHIR R4 Invoice or an EPS dispensing Claim (layouts in docs/invoicing.md)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from gateway.invoicing.claim import (
    CHARGE,
    DISPENSE_TYPE,
    ENDORSEMENT,
    EXT_GROUP_IDENTIFIER,
    EXT_REQUEST_REF,
    EXT_SEQUENCE_ID,
    EXT_TASK_STATUS,
)
from gateway.invoicing.csv_invoice import COLUMNS, OPTIONAL
from gateway.invoicing.fhir_invoice import (
    EXT_INVOICE_LINE,
    INVOICE_NUMBER,
    LINE_ITEM,
    ODS,
    PRICE_COMPONENT,
    SERVICE_CODES,
    SHORT_FORM,
    SNOMED,
)
from gateway.invoicing.money import plain, pounds, times, vat_of


@dataclass(frozen=True)
class Bill:
    """One line a provider bills."""

    short_form_id: str
    line_item_id: str | None
    delivery: int | None
    kind: str
    code: str
    quantity: Decimal
    unit_pence: int
    vat_rate: Decimal = Decimal(0)

    @property
    def net_pence(self) -> int:
        return times(self.quantity, self.unit_pence)

    @property
    def vat_pence(self) -> int:
        return vat_of(self.net_pence, self.vat_rate)

    def but(self, **change: Any) -> Bill:
        return replace(self, **change)


def medicine_bills(facts: dict[str, Any], delivery: int, unit_pence: int) -> list[Bill]:
    """A medicine line per line item of a released order (its quantity per delivery), for one delivery."""
    out = []
    for request in facts["requests"]:
        item = next(i["value"] for i in request["identifier"] if i["system"] == LINE_ITEM)
        code = request["medicationCodeableConcept"]["coding"][0]["code"]
        quantity = Decimal(str(request["dispenseRequest"]["quantity"]["value"]))
        out.append(Bill(facts["short_form_id"], item, delivery, "medicine", code, quantity, unit_pence))
    return out


def csv_invoice(
    number: str,
    issued: date,
    trust_ods: str,
    bills: Sequence[Bill],
    *,
    total_pence: int | None = None,
    provider_ods: str | None = None,
) -> bytes:
    """The CSV invoice of `bills` (the invoice's total is their sum unless given; the provider named if given)."""
    total = sum(b.net_pence + b.vat_pence for b in bills) if total_pence is None else total_pence
    out = io.StringIO()
    columns = [*COLUMNS, *OPTIONAL[1:3], *(["provider_ods"] if provider_ods else [])]
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    for b in bills:
        writer.writerow(
            {
                "invoice_number": number,
                "invoice_date": issued.isoformat(),
                "trust_ods": trust_ods,
                "prescription": b.short_form_id,
                "line_item": b.line_item_id or "",
                "delivery": b.delivery or "",
                "kind": b.kind,
                "code": b.code,
                "quantity": plain(b.quantity),
                "unit_price": pounds(b.unit_pence),
                "net": pounds(b.net_pence),
                "vat_rate": plain(b.vat_rate),
                "vat": pounds(b.vat_pence),
                "invoice_total": pounds(total),
                **({"provider_ods": provider_ods} if provider_ods else {}),
            }
        )
    return out.getvalue().encode()


def _money(pence: int) -> dict[str, Any]:
    return {"value": Decimal(pounds(pence)), "currency": "GBP"}


def fhir_invoice(number: str, issued: date, provider_ods: str, trust_ods: str, bills: Sequence[Bill]) -> dict[str, Any]:
    """The FHIR R4 Invoice of `bills`."""
    items = []
    for n, b in enumerate(bills, 1):
        parts: list[dict[str, Any]] = [
            {"url": "prescription", "valueIdentifier": {"system": SHORT_FORM, "value": b.short_form_id}}
        ]
        if b.line_item_id:
            parts.append({"url": "lineItem", "valueIdentifier": {"system": LINE_ITEM, "value": b.line_item_id}})
        if b.delivery:
            parts.append({"url": "delivery", "valuePositiveInt": b.delivery})
        items.append(
            {
                "sequence": n,
                "extension": [{"url": EXT_INVOICE_LINE, "extension": parts}],
                "chargeItemCodeableConcept": {
                    "coding": [{"system": SNOMED if b.kind == "medicine" else SERVICE_CODES, "code": b.code}]
                },
                "priceComponent": [
                    {"type": "base", "factor": b.quantity, "amount": _money(b.net_pence)},
                    {
                        "type": "informational",
                        "code": {"coding": [{"system": PRICE_COMPONENT, "code": "unit-price"}]},
                        "amount": _money(b.unit_pence),
                    },
                    {
                        "type": "tax",
                        "code": {"coding": [{"system": PRICE_COMPONENT, "code": "VAT"}]},
                        "factor": b.vat_rate / 100,
                        "amount": _money(b.vat_pence),
                    },
                ],
            }
        )
    net = sum(b.net_pence for b in bills)
    return {
        "resourceType": "Invoice",
        "identifier": [{"system": INVOICE_NUMBER, "value": number}],
        "status": "issued",
        "date": issued.isoformat(),
        "issuer": {"identifier": {"system": ODS, "value": provider_ods}},
        "recipient": {"identifier": {"system": ODS, "value": trust_ods}},
        "lineItem": items,
        "totalNet": _money(net),
        "totalGross": _money(net + sum(b.vat_pence for b in bills)),
    }


def claim(facts: dict[str, Any], provider_ods: str, *, endorsed: bool = True) -> dict[str, Any]:
    """An EPS dispensing Claim for every line of a released order, fully dispensed, shaped like EPS's examples."""
    details = []
    for n, request in enumerate(facts["requests"], 1):
        item = next(i["value"] for i in request["identifier"] if i["system"] == LINE_ITEM)
        program = [{"coding": [{"system": CHARGE, "code": "not-paid"}]}]
        if endorsed:
            program.append({"coding": [{"system": ENDORSEMENT, "code": "NDEC"}]})
        quantity = request["dispenseRequest"]["quantity"]
        details.append(
            {
                "extension": [
                    {
                        "url": EXT_SEQUENCE_ID,
                        "valueIdentifier": {
                            "system": "https://fhir.nhs.uk/Id/claim-sequence-identifier",
                            "value": str(uuid.uuid4()),
                        },
                    },
                    {"url": EXT_REQUEST_REF, "valueReference": {"identifier": {"system": LINE_ITEM, "value": item}}},
                ],
                "sequence": n,
                "productOrService": request["medicationCodeableConcept"],
                "modifier": [{"coding": [{"system": DISPENSE_TYPE, "code": "0001"}]}],
                "quantity": quantity,
                "programCode": program,
            }
        )
    return {
        "resourceType": "Claim",
        "contained": [
            {
                "resourceType": "PractitionerRole",
                "id": "performer",
                "identifier": [{"system": "https://fhir.nhs.uk/Id/sds-role-profile-id", "value": "555086415105"}],
                "practitioner": {"identifier": {"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "3415870201"}},
                "organization": {"reference": "#organisation"},
            },
            {
                "resourceType": "Organization",
                "id": "organisation",
                "identifier": [{"system": ODS, "value": provider_ods}],
            },
        ],
        "identifier": [{"system": "https://tools.ietf.org/html/rfc4122", "value": str(uuid.uuid4())}],
        "created": "2026-12-20T10:00:00+00:00",
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "pharmacy"}]},
        "use": "claim",
        "patient": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": facts["nhs_number"]}},
        "provider": {"reference": "#performer"},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"identifier": {"system": ODS, "value": "T1450"}}}],
        "prescription": {
            "extension": [
                {
                    "url": EXT_GROUP_IDENTIFIER,
                    "extension": [
                        {"url": "shortForm", "valueIdentifier": {"system": SHORT_FORM, "value": facts["short_form_id"]}}
                    ],
                }
            ]
        },
        "item": [
            {
                "extension": [
                    {
                        "url": EXT_TASK_STATUS,
                        "valueCoding": {
                            "system": "https://fhir.nhs.uk/CodeSystem/EPS-task-business-status",
                            "code": "0006",
                        },
                    }
                ],
                "sequence": 1,
                "detail": details,
            }
        ],
    }
