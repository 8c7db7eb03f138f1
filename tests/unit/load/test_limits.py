"""Bounded request parsing: JSON depth, width and number size, whole numbers and form fields (gateway/limits.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.api.errors import error_status
from gateway.errors import InputError
from gateway.limits import (
    LIMIT_EXCEEDED,
    MAX_JSON_BYTES,
    MAX_JSON_COMMAS,
    MAX_JSON_DEPTH,
    MAX_JSON_ITEMS,
    MAX_JSON_MEMBERS,
    MAX_NUMBER_CHARS,
    form_fields,
    load_json,
    whole_number,
)


def refused(raw: bytes | str) -> InputError:
    with pytest.raises(InputError) as caught:
        load_json(raw)
    return caught.value


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_deep_json_is_refused_with_422_not_a_recursion_error(depth: int) -> None:
    for opening, closing in (("[", "]"), ('{"a":', "}")):
        error = refused(opening * depth + "1" + closing * depth)
        assert error.issues[0].code == LIMIT_EXCEEDED and error_status(error) == 422
        assert "deep" in error.issues[0].message and error.issues[0].location.path


def test_json_at_the_depth_limit_is_read() -> None:
    raw = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert load_json(raw) == json.loads(raw)


def test_too_wide_and_too_long_numbers_are_refused() -> None:
    wide = refused(json.dumps({str(i): i for i in range(MAX_JSON_MEMBERS + 1)}))
    assert wide.issues[0].code == LIMIT_EXCEEDED and "members" in wide.issues[0].message
    for number in ("9" * 5_000, "-" + "9" * 5_000, "1." + "5" * 5_000, "1e" + "9" * 50):
        error = refused('{"limit": ' + number + "}")
        assert error.issues[0].code == LIMIT_EXCEEDED and error_status(error) == 422, number
    assert load_json('{"n": ' + "9" * MAX_NUMBER_CHARS + "}")["n"] == int("9" * MAX_NUMBER_CHARS)


def test_non_json_constants_and_bad_text_are_invalid_json_located() -> None:
    for raw in ('{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}'):
        assert refused(raw).issues[0].code == "INVALID_JSON"
    bad = refused('{\n "a": }')
    assert bad.issues[0].code == "INVALID_JSON" and bad.issues[0].location.line == 2
    assert refused(b"\xff\xfe{").issues[0].code == "INVALID_JSON"


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
        max_leaves=30,
    )
)
def test_ordinary_json_reads_as_json_does(value: object) -> None:
    raw = json.dumps(value)
    assert load_json(raw) == json.loads(raw)


def test_whole_numbers_from_query_strings() -> None:
    assert whole_number("48") == 48 and whole_number("007") == 7 and whole_number("0") == 0
    for bad in ("", " 5", "-1", "1.5", "٣", "4e2", "9" * 5_000, "1" + "0" * MAX_NUMBER_CHARS):
        assert whole_number(bad) is None, bad[:20]


def test_forms_with_too_many_fields_are_refused_not_a_500() -> None:
    body = "&".join(f"f{i}=x" for i in range(300)).encode()
    with pytest.raises(InputError) as caught:
        form_fields(body, max_fields=200)
    assert caught.value.issues[0].code == LIMIT_EXCEEDED and error_status(caught.value) == 422
    assert form_fields(b"a=1&a=2&b=", max_fields=200) == {"a": "1", "b": ""}


def test_json_too_large_or_of_too_many_values_is_refused_before_parsing() -> None:
    big = b'{"a": "' + b"x" * MAX_JSON_BYTES + b'"}'
    error = refused(big)
    assert error.issues[0].code == "PAYLOAD_TOO_LARGE" and error_status(error) == 413
    many = b"[" + b"0," * MAX_JSON_COMMAS + b"0]"
    error = refused(many)
    assert error.issues[0].code == LIMIT_EXCEEDED and error_status(error) == 422
    assert len(load_json(b"[" + b"0," * (MAX_JSON_ITEMS - 1) + b"0]")) == MAX_JSON_ITEMS
