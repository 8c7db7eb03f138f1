"""The CSV invoice: a good file read into billed lines; each bad cell and each sum that does not add up located."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gateway.domain.identifiers import new_short_form_id
from gateway.errors import InputError
from gateway.invoicing.csv_invoice import parse_csv_invoice
from gateway.simulate.invoices import Bill, csv_invoice

SID = new_short_form_id("A99968", 1)
ISSUED = date(2026, 12, 20)


def _bills() -> list[Bill]:
    medicine = Bill(SID, "a54219b8-f741-4c47-b662-e4f8dfa49ab6", 1, "medicine", "15517911000001104", Decimal(4), 12_500)
    service = Bill(SID, None, 1, "service", "nurse-visit", Decimal(1), 4_500, Decimal(20))
    return [medicine, service]


def _issues(body: bytes) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(InputError) as caught:
        parse_csv_invoice(body, "VNFKT")
    return [(i.location.line, i.location.column, i.code) for i in caught.value.issues]


def test_a_good_invoice_is_read_line_by_line() -> None:
    invoice = parse_csv_invoice(csv_invoice("INV-1", ISSUED, "RBA", _bills()), "VNFKT")
    assert (invoice.reference, invoice.issued, invoice.trust_ods, invoice.total_pence) == (
        "INV-1",
        ISSUED,
        "RBA",
        55_400,
    )
    medicine, service = invoice.lines
    assert (medicine.quantity, medicine.unit_price_pence, medicine.net_pence, medicine.vat_pence) == (
        4,
        12_500,
        50_000,
        0,
    )
    assert (service.kind, service.code, service.vat_rate, service.vat_pence, service.line_item_id) == (
        "service",
        "nurse-visit",
        Decimal(20),
        900,
        None,
    )


def test_sums_that_do_not_add_up_are_located() -> None:
    wrong_total = csv_invoice("INV-1", ISSUED, "RBA", _bills(), total_pence=55_401)
    assert _issues(wrong_total) == [(2, "total", "TOTAL_MISMATCH")]
    body = csv_invoice("INV-1", ISSUED, "RBA", _bills()).decode()
    wrong_net = body.replace(",500.00,0,0.00,", ",500.01,0,0.00,")
    assert _issues(wrong_net.encode()) == [(2, "net", "TOTAL_MISMATCH"), (2, "total", "TOTAL_MISMATCH")]
    wrong_vat = body.replace(",45.00,20,9.00,", ",45.00,20,9.01,")
    assert _issues(wrong_vat.encode()) == [(3, "vat", "TOTAL_MISMATCH"), (2, "total", "TOTAL_MISMATCH")]


def test_each_bad_cell_is_located_and_nothing_is_read() -> None:
    body = csv_invoice("INV-1", ISSUED, "RBA", _bills()).decode()
    bad = (
        body.replace(SID, "NOT-AN-ID", 1)
        .replace(",nurse-visit,1,", ",nurse-visit,-1,")
        .replace(",medicine,", ",pills,")
    )
    assert _issues(bad.encode()) == [
        (2, "prescription", "INVALID_PRESCRIPTION_ID"),
        (2, "kind", "INVALID_VALUE"),
        (3, "quantity", "INVALID_QUANTITY"),
    ]
    assert _issues(body.replace(",125.00,", ",125.005,").encode())[0] == (2, "unit_price", "INVALID_AMOUNT")
    last = body[::-1].replace("1-VNI", "2-VNI", 1)[::-1]  # only the last row
    assert _issues(last.encode()) == [(3, "invoice_number", "INCONSISTENT_VALUE")]


def test_file_level_problems() -> None:
    assert _issues(b"invoice_number,trust_ods\r\nX,RBA\r\n")[0] == (1, "invoice_date", "MISSING_COLUMN")
    header = csv_invoice("INV-1", ISSUED, "RBA", []).decode()
    assert _issues(header.encode()) == [(2, None, "EMPTY_FILE")]
    assert _issues(b"\xff\xfe") == [(1, None, "INVALID_ENCODING")]
    someone_else = (
        csv_invoice("INV-1", ISSUED, "RBA", _bills())
        .decode()
        .replace("invoice_number,", "provider_ods,invoice_number,", 1)
    )
    lines = someone_else.splitlines()
    rows = [lines[0]] + ["VNCEL," + line for line in lines[1:]]
    assert _issues("\r\n".join(rows).encode()) == [(2, "provider_ods", "FORBIDDEN_TENANT")]
