"""The FHIR R4 Invoice: read into billed lines; every problem located by FHIRPath."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from gateway.domain.identifiers import new_short_form_id
from gateway.errors import InputError
from gateway.fhir.serialise import dumps_bundle, loads_bundle
from gateway.invoicing.fhir_invoice import read_fhir_invoice
from gateway.simulate.invoices import Bill, fhir_invoice

SID = new_short_form_id("A99968", 2)


def _invoice() -> dict[str, Any]:
    bills = [
        Bill(SID, "a54219b8-f741-4c47-b662-e4f8dfa49ab6", 2, "medicine", "15517911000001104", Decimal("0.5"), 12_501),
        Bill(SID, None, 2, "service", "nurse-visit", Decimal(1), 4_500, Decimal(20)),
    ]
    # Through JSON and back, as it arrives: decimals stay exact.
    return loads_bundle(dumps_bundle(fhir_invoice("INV-9", date(2026, 12, 20), "VNFKT", "RBA", bills)))


def _paths(resource: dict[str, Any], provider: str = "VNFKT") -> list[tuple[str | None, str]]:
    with pytest.raises(InputError) as caught:
        read_fhir_invoice(resource, provider)
    return [(i.location.path, i.code) for i in caught.value.issues]


def test_a_good_invoice_is_read() -> None:
    invoice = read_fhir_invoice(_invoice(), "VNFKT")
    medicine, service = invoice.lines
    assert (medicine.quantity, medicine.net_pence, medicine.delivery_number) == (Decimal("0.5"), 6_251, 2)
    assert (service.kind, service.vat_rate, service.vat_pence) == ("service", Decimal(20), 900)
    assert (invoice.trust_ods, invoice.reference, invoice.total_pence) == ("RBA", "INV-9", 6_251 + 4_500 + 900)


def test_problems_are_located_by_fhirpath() -> None:
    resource = _invoice()
    resource["issuer"]["identifier"]["value"] = "VNCEL"
    resource["lineItem"][0]["priceComponent"][0]["amount"]["value"] = Decimal("62.515")
    resource["lineItem"][1]["chargeItemCodeableConcept"]["coding"][0]["system"] = "http://example.org/codes"
    assert _paths(resource) == [
        ("Invoice.issuer.identifier.value", "FORBIDDEN_TENANT"),
        ("Invoice.lineItem[0].priceComponent.where(type='base').amount.value", "INVALID_AMOUNT"),
        ("Invoice.lineItem[1].chargeItemCodeableConcept.coding[0]", "INVALID_CODE"),
    ]


def test_totals_that_do_not_add_up() -> None:
    resource = _invoice()
    resource["totalGross"]["value"] = Decimal("1.00")
    assert _paths(resource) == [("Invoice.totalGross", "TOTAL_MISMATCH")]
    resource = _invoice()
    resource["lineItem"][1]["priceComponent"][2]["amount"]["value"] = Decimal("9.01")
    assert _paths(resource)[0] == ("Invoice.lineItem[1]", "TOTAL_MISMATCH")


def test_not_an_invoice_or_not_issued() -> None:
    assert _paths({"resourceType": "Claim"}) == [("Invoice.resourceType", "INVALID_RESOURCE_TYPE")]
    resource = _invoice()
    resource["status"] = "draft"
    assert _paths(resource) == [("Invoice.status", "INVALID_VALUE")]
    assert json.loads(dumps_bundle(_invoice()))["lineItem"][0]["priceComponent"][0]["factor"] == 0.5
