"""`dumps_bundle` / `loads_bundle`: Decimals as exact JSON numbers, compact UTF-8, located parse errors."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import InputError
from gateway.fhir.serialise import _dumps_marked, decimal_literal, dumps_bundle, loads_bundle


def test_decimals_are_written_as_given_without_float() -> None:
    raw = dumps_bundle({"a": Decimal("0.4"), "b": Decimal("40"), "c": [Decimal("0.10"), Decimal("1E+1")], "d": 3})
    assert raw == b'{"a":0.4,"b":40,"c":[0.10,10],"d":3}'
    assert dumps_bundle({"huge": Decimal("1E+5000")}) == b'{"huge":1E+5000}'


def test_compact_utf8_and_text_that_looks_like_a_mark_stays_text() -> None:
    raw = dumps_bundle({"name": "Siân", "note": "\ue000deadbeef:1", "q": Decimal("2.5")})
    assert raw == '{"name":"Siân","note":"\ue000deadbeef:1","q":2.5}'.encode()


def test_indented_output_for_golden_files() -> None:
    assert dumps_bundle({"a": Decimal("0.4")}, indent=2) == b'{\n  "a": 0.4\n}'


def test_loads_parses_decimals_exactly() -> None:
    assert loads_bundle(b'{"v":0.1,"n":2}') == {"v": Decimal("0.1"), "n": 2}


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity")])
def test_non_finite_decimals_are_refused(bad: Decimal) -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        dumps_bundle({"v": bad})


def test_other_objects_are_refused() -> None:
    with pytest.raises(TypeError):
        dumps_bundle({"v": object()})


@pytest.mark.parametrize(
    ("raw", "line", "code"),
    [
        (b'{\n"a": 1,\n}', 3, "INVALID_JSON"),
        (b"[1, 2]", None, "INVALID_JSON"),
        (b"\xff", None, "INVALID_JSON"),
        (b'{"a": ' + b"9" * 5000 + b"}", None, "LIMIT_EXCEEDED"),
        (b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}", None, "LIMIT_EXCEEDED"),
    ],
)
def test_bad_json_is_an_input_error(raw: bytes, line: int | None, code: str) -> None:
    with pytest.raises(InputError) as caught:
        loads_bundle(raw)
    (issue,) = caught.value.issues
    assert issue.code == code
    assert issue.location.line == line


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_any_finite_decimal_round_trips_exactly(value: Decimal) -> None:
    raw = dumps_bundle({"v": value})
    parsed = loads_bundle(raw)["v"]
    assert parsed == value
    assert json.loads(raw)["v"] == json.loads(decimal_literal(value))


_JSON_LEAVES = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63) | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False)
)
_JSON = st.recursive(
    _JSON_LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
)


@given(st.dictionaries(st.text(), _JSON, max_size=6))
def test_the_fast_path_writes_the_bytes_of_the_marked_path(bundle: dict[str, object]) -> None:
    """msgspec and the standard library with marked Decimals agree byte for byte (float-free JSON, as the mapping
    and `loads_bundle` make it), and the Decimals come back equal, exponent and all."""
    try:
        expected = _dumps_marked(bundle, None)
    except UnicodeEncodeError:  # a lone surrogate: neither path can write it
        with pytest.raises(UnicodeEncodeError):
            dumps_bundle(bundle)
        return
    assert dumps_bundle(bundle) == expected
    assert loads_bundle(expected) == bundle


def test_floats_are_written_by_value_and_a_nan_float_is_refused() -> None:
    assert json.loads(dumps_bundle({"v": 0.1, "w": 1e16})) == {"v": 0.1, "w": 1e16}
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps_bundle({"v": float("nan")})
