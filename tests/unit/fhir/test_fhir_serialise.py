"""`dumps_bundle` / `loads_bundle`: Decimals as exact JSON numbers, compact UTF-8, located parse errors."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import InputError
from gateway.fhir.serialise import decimal_literal, dumps_bundle, loads_bundle


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
