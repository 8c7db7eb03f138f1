"""Any JSON at all, however shaped, is read or refused with located issues: never another exception."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import InputError
from gateway.invoicing.claim import read_claim
from gateway.invoicing.csv_invoice import COLUMNS, parse_csv_invoice
from gateway.invoicing.fhir_invoice import read_fhir_invoice
from gateway.invoicing.prices import parse_price_csv

KEYS = st.sampled_from(
    [
        "resourceType",
        "identifier",
        "status",
        "date",
        "issuer",
        "recipient",
        "lineItem",
        "totalNet",
        "totalGross",
        "extension",
        "url",
        "valueIdentifier",
        "value",
        "system",
        "code",
        "coding",
        "priceComponent",
        "type",
        "factor",
        "amount",
        "currency",
        "chargeItemCodeableConcept",
        "valuePositiveInt",
        "provider",
        "contained",
        "reference",
        "id",
        "practitioner",
        "organization",
        "insurance",
        "item",
        "detail",
        "programCode",
        "modifier",
        "quantity",
        "productOrService",
        "prescription",
        "created",
    ]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from(["Invoice", "Claim", "#p"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)


def _only_input_errors(read: Any, *args: Any) -> None:
    try:
        read(*args)
    except InputError as exc:
        assert exc.issues


@settings(max_examples=300)
@given(st.dictionaries(KEYS, JSON, max_size=8), st.sampled_from(["Invoice", "Claim"]))
def test_fhir_readers_never_fail_otherwise(resource: dict[str, Any], kind: str) -> None:
    resource["resourceType"] = kind
    _only_input_errors(read_fhir_invoice, resource, "VNFKT")
    _only_input_errors(read_claim, resource, "VNFKT", date(2026, 12, 1))


@settings(max_examples=200)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_csv_readers_never_fail_otherwise(payload: bytes) -> None:
    header = (",".join(COLUMNS) + "\r\n").encode()
    for body in (payload, header + payload):
        _only_input_errors(parse_csv_invoice, body, "VNFKT")
        _only_input_errors(parse_price_csv, body)
