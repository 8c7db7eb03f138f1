"""Identifier checks against the real values in shared/reference/README.md, plus properties of the check digits."""

from __future__ import annotations

import csv
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.identifiers import (
    is_valid_nhs_number,
    is_valid_ods_code,
    is_valid_prescriber_code,
    is_valid_short_form_id,
    is_valid_snomed_id,
    mod37_2_check_character,
    new_short_form_id,
    nhs_number_check_digit,
    normalise_postcode,
    verhoeff_valid,
)
from tests.paths import REFERENCE

PROPERTY = settings(max_examples=150, deadline=None)
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _dmd_codes() -> list[str]:
    with (REFERENCE / "dmd-subset.csv").open(newline="", encoding="utf-8") as fh:
        return [row["code"] for row in csv.DictReader(fh)]


DMD_CODES = _dmd_codes()


# NHS numbers


@pytest.mark.parametrize("value", ["9434765919", "9434765870", "9449306680", "943 476 5919", "943-476-5919"])
def test_real_nhs_numbers_are_valid(value: str) -> None:
    assert is_valid_nhs_number(value)


@pytest.mark.parametrize(
    "value",
    [
        "9434765918",  # wrong check digit
        "943476591",  # nine digits
        "94347659190",  # eleven digits
        "943476591X",
        "",
        "٩٤٣٤٧٦٥٩١٩",  # Arabic-Indic digits are digits to str.isdigit, not to the NHS
        "1000000010",  # the check digit would be 10: no valid number starts 100000001
    ],
)
def test_invalid_nhs_numbers_are_refused(value: str) -> None:
    assert not is_valid_nhs_number(value)


def test_check_digit_eleven_becomes_zero() -> None:
    # 100000006: sum = 10 + 6*2 = 22, 22 mod 11 = 0, 11 - 0 = 11 → 0
    assert nhs_number_check_digit("100000006") == 0
    assert is_valid_nhs_number("1000000060")


def test_check_digit_ten_has_no_number() -> None:
    assert nhs_number_check_digit("100000001") is None
    assert not any(is_valid_nhs_number(f"100000001{d}") for d in range(10))


@PROPERTY
@given(st.integers(0, 999_999_999).map("{:09d}".format))
def test_nhs_check_digit_agrees_with_validator(first_nine: str) -> None:
    check = nhs_number_check_digit(first_nine)
    valid_last_digits = [d for d in range(10) if is_valid_nhs_number(f"{first_nine}{d}")]
    assert valid_last_digits == ([] if check is None else [check])


# SNOMED CT / dm+d and Verhoeff


def test_reference_subset_is_not_empty() -> None:
    assert len(DMD_CODES) >= 30


@pytest.mark.parametrize("code", DMD_CODES)
def test_every_reference_dmd_code_is_a_snomed_id(code: str) -> None:
    assert is_valid_snomed_id(code)


@pytest.mark.parametrize(
    "value",
    [
        "15517911000001105",  # last digit changed
        "12345",  # too short
        "1234567890123456789",  # too long
        "015517911000001104",  # leading zero
        "1551791100000110A",
        "",
    ],
)
def test_invalid_snomed_ids_are_refused(value: str) -> None:
    assert not is_valid_snomed_id(value)


def _with_verhoeff_digit(body: str) -> str:
    candidates = [body + str(d) for d in range(10) if verhoeff_valid(body + str(d))]
    assert len(candidates) == 1  # exactly one check digit completes any body
    return candidates[0]


@PROPERTY
@given(st.text("0123456789", min_size=5, max_size=17), st.data())
def test_verhoeff_catches_any_single_digit_change(body: str, data: st.DataObject) -> None:
    number = _with_verhoeff_digit(body)
    position = data.draw(st.integers(0, len(number) - 1), label="position")
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]), label="digit")
    changed = number[:position] + replacement + number[position + 1 :]
    assert not verhoeff_valid(changed)


@PROPERTY
@given(st.text("0123456789", min_size=5, max_size=17), st.data())
def test_verhoeff_catches_any_adjacent_transposition(body: str, data: st.DataObject) -> None:
    number = _with_verhoeff_digit(body)
    swappable = [i for i in range(len(number) - 1) if number[i] != number[i + 1]]
    if not swappable:
        # a run of one digit: nothing to transpose, the number itself must still check
        assert verhoeff_valid(number)
        return
    i = data.draw(st.sampled_from(swappable), label="position")
    swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    assert not verhoeff_valid(swapped)


# EPS short-form prescription ids


@pytest.mark.parametrize("value", ["83C40E-A23856-00123W", "24F5DA-A83008-7EFE6Z", "A0548B-A99968-451485"])
def test_real_short_form_ids_are_valid(value: str) -> None:
    assert is_valid_short_form_id(value)


def test_short_form_id_printed_in_the_nhs_guide_is_invalid() -> None:
    assert not is_valid_short_form_id("DC2C66-A1B2C3-23407B")
    assert mod37_2_check_character("DC2C66-A1B2C3-23407") == "Z"
    assert is_valid_short_form_id("DC2C66-A1B2C3-23407Z")


@pytest.mark.parametrize(
    "value",
    [
        "24F5DA-A83008-7EFE6Y",  # wrong check character
        "24f5da-a83008-7efe6z",  # lower case
        "24F5DAA830087EFE6Z",  # no dashes
        "24F5DG-A83008-7EFE6Z",  # G is not hex
        "24F5DA-A83008-7EFE6Z-",
        "",
    ],
)
def test_invalid_short_form_ids_are_refused(value: str) -> None:
    assert not is_valid_short_form_id(value)


ODS_CODES = st.one_of(*(st.text(ALNUM, min_size=n, max_size=n) for n in (3, 5, 6)))


@PROPERTY
@given(ODS_CODES, st.one_of(st.none(), st.integers(0, 2 * 16**5)))
def test_new_short_form_id_is_valid_and_embeds_the_padded_ods(ods: str, sequence: int | None) -> None:
    value = new_short_form_id(ods, sequence)
    assert is_valid_short_form_id(value)
    assert value.split("-")[1] == ods.rjust(6, "0")
    if sequence is not None:
        assert value.split("-")[2][:5] == f"{sequence % 16**5:05X}"


def test_new_short_form_id_upper_cases_the_ods() -> None:
    value = new_short_form_id("a99968", 0x123)
    assert value[7:19] == "A99968-00123"
    assert is_valid_short_form_id(value)


# ODS, postcodes, prescriber codes


@pytest.mark.parametrize("value", ["RBA", "A99968", "VNFKT", "FTX40", "VN6XW", "VNE51", "RHM"])
def test_ods_codes_are_valid(value: str) -> None:
    assert is_valid_ods_code(value)


@pytest.mark.parametrize("value", ["", "RB", "RBAX", "VNFKT12", "vnfkt", "VN-KT", "RB A"])
def test_invalid_ods_codes_are_refused(value: str) -> None:
    assert not is_valid_ods_code(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("so166yd", "SO16 6YD"),
        ("SO16 6YD", "SO16 6YD"),
        (" so16  6yd ", "SO16 6YD"),
        ("GIR 0AA", "GIR 0AA"),
        ("gir0aa", "GIR 0AA"),
        ("EC1A 1BB", "EC1A 1BB"),
        ("W1A0AX", "W1A 0AX"),
        ("M11AE", "M1 1AE"),
        ("DN55 1PT", "DN55 1PT"),
    ],
)
def test_postcodes_are_normalised(value: str, expected: str) -> None:
    assert normalise_postcode(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "SO16",  # outward code only
        "QO16 6YD",  # Q never starts a postcode
        "SO16 6CD",  # C is not used in the inward code
        "SO16 66D",
        "S016 6YD",  # digit zero for the letter O
        "SO16 6YDX",
        "12345",
    ],
)
def test_invalid_postcodes_give_none(value: str) -> None:
    assert normalise_postcode(value) is None


@pytest.mark.parametrize(
    ("code_type", "value"),
    [
        ("GMC", "4123456"),
        ("gmc", "4123456"),
        ("GPHC", "2012345"),
        ("NMC", "12A3456E"),
        ("HCPC", "PH123456"),
        ("HCPC", "PA12345"),
    ],
)
def test_prescriber_codes_in_their_register_format(code_type: str, value: str) -> None:
    assert is_valid_prescriber_code(code_type, value)


@pytest.mark.parametrize(
    ("code_type", "value"),
    [
        ("GMC", "412345"),
        ("GMC", "41234567"),
        ("GMC", "G123456"),
        ("GPHC", "PH12345"),
        ("NMC", "12A3456"),
        ("NMC", "1AA3456E"),
        ("HCPC", "P123456"),
        ("HCPC", "PH1234"),
        ("HCPC", "PH1234567"),
        ("GDC", "4123456"),  # not a register the gateway knows
    ],
)
def test_prescriber_codes_outside_their_format_are_refused(code_type: str, value: str) -> None:
    assert not is_valid_prescriber_code(code_type, value)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (is_valid_ods_code, "RBA\n"),
        (lambda v: is_valid_prescriber_code("GMC", v), "4123456\n"),
        (lambda v: is_valid_prescriber_code("GMC", v), "٤١٢٣٤٥٦"),  # Arabic-Indic digits are not ASCII digits
        (is_valid_short_form_id, "24F5DA-A83008-7EFE6Z\n"),
    ],
)
def test_trailing_newlines_and_non_ascii_digits_are_rejected(check: Any, value: str) -> None:
    assert not check(value)


def test_postcode_with_trailing_newline_is_not_a_postcode() -> None:
    assert normalise_postcode("SO16 6YD\n") is None
