"""The json.dumps fast path of canonical_json gives exactly rfc8785's bytes, whatever the JSON value."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.signing.canonical import canonical_json, exact_double
from gateway.signing.exceptions import CanonicalisationError

numbers = st.one_of(
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6),
)
scalars = st.one_of(st.none(), st.booleans(), st.text(), numbers)
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children,
                                                                               max_size=4)),
    max_leaves=20,
)


def _reference(value: Any) -> bytes:
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return float(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    return rfc8785.dumps(plain(value))


@settings(max_examples=400, deadline=None)
@given(values)
def test_fast_path_matches_rfc8785(value: Any) -> None:
    try:
        expected = _reference(value)
    except (rfc8785.CanonicalizationError, ValueError, OverflowError):
        return  # inputs JCS itself refuses (lone surrogates, out-of-range numbers) are covered elsewhere
    try:
        got = canonical_json(value)
    except CanonicalisationError:
        assert _has_inexact_decimal(value)  # refused by design, and only then
        return
    assert got == expected


def _has_inexact_decimal(value: Any) -> bool:
    if isinstance(value, Decimal):
        return exact_double(value) is None
    if isinstance(value, dict):
        return any(_has_inexact_decimal(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_inexact_decimal(v) for v in value)
    return False


def test_typical_fhir_numbers() -> None:
    bundle = {"b": [Decimal("0.4"), Decimal("40"), 2.5, 1e-5, 10**20 // 10**5], "a": "Zoë ☃ \u2028 \x1f"}
    assert canonical_json(bundle) == rfc8785.dumps(
        {"b": [0.4, 40, 2.5, 1e-5, 10**15], "a": "Zoë ☃ \u2028 \x1f"}
    )
