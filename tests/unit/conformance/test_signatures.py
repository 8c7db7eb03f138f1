"""The conformance kit's RFC 8785 canonical JSON, on the RFC's own examples, and its verdicts on broken JWS."""

from __future__ import annotations

import base64
import json

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from conformance.signatures import CanonicalError, canonical_json, verify_bundle


def test_rfc8785_section_3_2_2_example() -> None:
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(json.loads(source)) == expected.encode("utf-8")


def test_rfc8785_section_3_2_3_sorts_by_utf16_code_units() -> None:
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    text = canonical_json({k: i for i, k in enumerate(keys)}).decode("utf-8")
    assert [key for key, _ in json.loads(text, object_pairs_hook=list)] == [
        "\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("number", "text"),
    [(0.0, "0"), (-0.0, "0"), (40.0, "40"), (1e21, "1e+21"), (1e20, "100000000000000000000"), (1e-7, "1e-7"),
     (1.5e-6, "0.0000015"), (-12.25, "-12.25"), (5e-324, "5e-324"), (2**53 - 1, "9007199254740991")],
)  # fmt: skip
def test_numbers_print_as_ecmascript_does(number: float, text: str) -> None:
    assert canonical_json(number) == text.encode()


def test_values_without_a_canonical_form_are_refused() -> None:
    for bad in (float("nan"), 2**53, "\ud800", {1: "x"}, object()):
        with pytest.raises(CanonicalError):
            canonical_json(bad)


def _signed(jws: str) -> dict[str, object]:
    signature = {
        "type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.5"}],
        "sigFormat": "application/jose",
        "data": base64.b64encode(jws.encode()).decode(),
    }
    provenance = {"resourceType": "Provenance", "signature": [signature]}
    return {"resourceType": "Bundle", "entry": [{"resource": provenance}]}


def _b64url(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "jws",
    [
        "not-a-jws",
        f"{_b64url({'alg': 'ES256', 'kid': 'k'})}.cGF5bG9hZA.c2ln",  # payload attached
        f"{_b64url({'alg': 'HS256', 'kid': 'k'})}..c2ln",
        f"{_b64url({'alg': 'ES256', 'kid': 'k', 'b64': False})}..c2ln",
        f"{_b64url({'alg': 'ES256'})}..c2ln",
    ],
)
def test_a_jws_not_in_the_gateway_s_form_is_malformed(jws: str) -> None:
    assert verify_bundle(_signed(jws), {"keys": []}).status == "malformed"


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"]), max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_json)
def test_the_same_bytes_as_an_independent_rfc8785_implementation(value: object) -> None:
    """The `rfc8785` package (Trail of Bits) reaches the same bytes; the gateway signs with it where JCS is hard."""
    assert canonical_json(value) == rfc8785.dumps(value)
