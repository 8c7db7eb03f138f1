"""Exact money: pounds to pence and back, quantities and rates, with no float anywhere."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from gateway.invoicing.money import pence_or_none, plain, pounds, quantity_or_none, rate_or_none, times, vat_of


@given(st.integers(min_value=0, max_value=10**12))
def test_pence_survive_the_round_trip_through_pounds(pence: int) -> None:
    assert pence_or_none(pounds(pence)) == pence


def test_amounts_with_fractions_of_a_penny_or_signs_are_refused() -> None:
    assert [pence_or_none(v) for v in ("1.005", "-1.00", "abc", "NaN", "Infinity", True, 1.5)] == [None] * 7
    assert [pence_or_none(v) for v in ("0", "12.3", "12.30", 7, Decimal("0.01"))] == [0, 1230, 1230, 700, 1]


def test_quantities_and_rates_have_one_spelling() -> None:
    assert [str(quantity_or_none(v)) for v in ("20", "20.0", "0.50", Decimal("2E+1"))] == ["20", "20", "0.5", "20"]
    assert [quantity_or_none(v) for v in ("0", "-1", "0.00001", "1e12")] == [None] * 4
    assert [str(rate_or_none(v)) for v in ("20.00", "0", "5")] == ["20", "0", "5"]
    assert rate_or_none("100.5") is None and rate_or_none("12.345") is None


def test_line_arithmetic_rounds_half_up_to_the_penny() -> None:
    assert times(Decimal("0.5"), 3) == 2  # 1.5p → 2p
    assert vat_of(1_250, Decimal(20)) == 250
    assert vat_of(1, Decimal("17.5")) == 0 and vat_of(3, Decimal("17.5")) == 1  # 0.175 → 0, 0.525 → 1
    assert plain(Decimal("1.50")) == "1.5" and pounds(-5) == "-0.05"
