"""The price-list CSV: read whole or refused with every problem located; periods of one code never overlap."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.errors import InputError
from gateway.invoicing.prices import Price, in_force, parse_price_csv

HEADER = "trust_ods,provider_ods,code,kind,unit_price,service_fee,valid_from,valid_to\r\n"


def _read(*rows: str) -> list[tuple[int, Price]]:
    return parse_price_csv((HEADER + "\r\n".join(rows) + "\r\n").encode())


def _issues(*rows: str) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(InputError) as caught:
        _read(*rows)
    return [(i.location.line, i.location.column, i.code) for i in caught.value.issues]


def test_prices_are_read_in_pence_and_found_by_date() -> None:
    entries = _read(
        "RBA,VNFKT,15517911000001104,medicine,125.50,4,2026-01-01,2026-06-30",
        "rba,vnfkt,15517911000001104,medicine,130,4.00,2026-07-01,",
    )
    prices = [p for _, p in entries]
    assert [(p.trust_ods, p.unit_price_pence, p.service_fee_pence) for p in prices] == [
        ("RBA", 12_550, 400),
        ("RBA", 13_000, 400),
    ]
    assert in_force(prices, "15517911000001104", date(2026, 6, 30)) == prices[0]
    assert in_force(prices, "15517911000001104", date(2027, 1, 1)) == prices[1]
    assert in_force(prices, "15517911000001104", date(2025, 12, 31)) is None


def test_every_bad_cell_is_located() -> None:
    assert _issues(
        "RBA,VNFKT,X,pills,1.001,,2026-13-01,",
        "R!,VNFKT,Y,service,1,,2026-01-01,2025-01-01",
    ) == [
        (2, "kind", "INVALID_VALUE"),
        (2, "unit_price", "INVALID_AMOUNT"),
        (2, "valid_from", "INVALID_DATE"),
        (3, "trust_ods", "INVALID_ODS_CODE"),
        (3, "valid_to", "INVALID_PERIOD"),
    ]


def test_overlapping_periods_of_one_code_are_refused() -> None:
    assert _issues(
        "RBA,VNFKT,X,medicine,1,,2026-01-01,",
        "RBA,VNFKT,X,medicine,2,,2026-06-01,",
    ) == [(3, "valid_from", "OVERLAPPING_PERIOD")]
    # Another trust, or another code, does not overlap.
    assert len(_read("RBA,VNFKT,X,medicine,1,,2026-01-01,", "RHM,VNFKT,X,medicine,2,,2026-06-01,")) == 2


def test_an_empty_list_or_a_missing_column() -> None:
    assert _issues() == [(1, None, "EMPTY_FILE")]
    with pytest.raises(InputError) as caught:
        parse_price_csv(b"trust_ods,code\r\nRBA,X\r\n")
    assert {i.location.column for i in caught.value.issues} == {"provider_ods", "kind", "unit_price", "valid_from"}
