"""RFC 8785 bytes from bundles with Decimals: the same bytes any JCS implementation makes, nothing rounded."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.fhir.serialise import dumps_bundle, loads_bundle
from gateway.signing.canonical import canonical_json
from gateway.signing.exceptions import CanonicalisationError


def test_rfc8785_example_object() -> None:
    # RFC 8785 §3.2.2 sample input, and its canonical output (§3.2.3 sorts by UTF-16 code units).
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(value) == expected.encode()


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("0.4", b"0.4"), ("40", b"40"), ("40.0", b"40"), ("0.10", b"0.1"), ("1E+1", b"10"), ("-0.5", b"-0.5"),
     ("2.5E-7", b"2.5e-7"), ("123456789.123", b"123456789.123"), ("0", b"0")],
)  # fmt: skip
def test_exact_decimals_sign_as_their_number(written: str, canonical: bytes) -> None:
    assert canonical_json({"v": Decimal(written)}) == b'{"v":' + canonical + b"}"


def test_decimal_and_float_and_parsed_wire_agree(order_bundle: dict[str, Any]) -> None:
    wire = dumps_bundle(order_bundle)
    assert canonical_json(order_bundle) == canonical_json(json.loads(wire)) == canonical_json(loads_bundle(wire))


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"dose": [Decimal("0.30000000000000001")]}, "$.dose[0]"),  # 17 digits: its double is 0.3
        ({"v": Decimal("1E+400")}, "$.v"),
        ({"v": Decimal("1E-400")}, "$.v"),
        ({"v": Decimal("NaN")}, "$.v"),
        ({"v": 2**53}, "$.v"),
        ({"v": float("inf")}, "$.v"),
        ({"v": {1: "a"}}, "$.v"),
        ({"v": object()}, "$.v"),
    ],
)
def test_values_without_an_exact_form_are_refused_and_located(value: Any, path: str) -> None:
    with pytest.raises(CanonicalisationError) as caught:
        canonical_json(value)
    assert caught.value.path == path


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(CanonicalisationError):
        canonical_json({"v": "\ud800"})


def test_largest_safe_integers_pass() -> None:
    assert canonical_json([2**53 - 1, -(2**53 - 1)]) == b"[9007199254740991,-9007199254740991]"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_decimal_of_a_doubles_shortest_text_canonicalises_like_the_double(value: float) -> None:
    assert canonical_json([Decimal(repr(value))]) == canonical_json([value])


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_an_accepted_decimal_is_signed_as_exactly_its_value(value: Decimal) -> None:
    try:
        text = canonical_json([value])
    except CanonicalisationError:
        return  # refused: no double equals it
    assert Decimal(text.decode()[1:-1]) == value
