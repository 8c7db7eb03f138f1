"""`hgw simulate answer-export` and `hgw invoices read` as subprocesses: the gateway's answer to a trust's export
and its reading of a provider's bill, offline, as the conformance kit asks them (conformance/gateway_answers.py)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from adapters.jac import render_export
from conformance.identifiers import mod37_2
from conformance.parties.exports import export_rows
from gateway.simulate.invoices import Bill, csv_invoice
from tests.acceptance.processes import hgw

SHORT_FORM_ID = "A1B2C3-RBA000-4D5E6" + mod37_2("A1B2C3-RBA000-4D5E6")
LINES = [
    Bill(SHORT_FORM_ID, "item-1", 1, "medicine", "39732311000001104", Decimal(28), 125),
    Bill(SHORT_FORM_ID, None, 1, "service", "nurse-visit", Decimal(1), 4500, Decimal(20)),
]


def test_answer_export_stands_in_for_every_organisation(tmp_path: Path) -> None:
    """A trust no gateway has configured (ODS `RXX`) is answered about its file: every prescription accepted."""
    export = tmp_path / "export.csv"
    export.write_bytes(render_export([{**row, "TrustODS": "RXX"} for row in export_rows(3, seed=5)]))
    done = hgw("simulate", "answer-export", str(export), "--format", "jac", "--provider", "VNFKT", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert [o["outcome"] for o in answer["outcomes"]] == ["accepted"] * 3
    assert not any("bundle" in o for o in answer["outcomes"])  # the answer, not the bundles
    assert answer["file_errors"] == []


def test_answer_export_locates_what_it_refuses(tmp_path: Path) -> None:
    rows = export_rows(2, seed=6)
    bad = rows[-1]["RxNumber"]  # every line of the last prescription: an NHS number failing the Modulus 11 check
    rows = [{**row, "NHSNumber": "1234567890"} if row["RxNumber"] == bad else row for row in rows]
    export = tmp_path / "export.csv"
    export.write_bytes(render_export(rows))
    done = hgw("simulate", "answer-export", str(export), "--format", "jac", "--provider", "VNFKT", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    outcomes = {o["ref"]: o for o in json.loads(done.stdout)["outcomes"]}
    assert {ref: o["outcome"] for ref, o in outcomes.items()} == {
        rows[0]["RxNumber"]: "accepted",
        bad: "rejected",
    }
    assert any(e["field"] == "NHSNumber" for e in outcomes[bad]["errors"]), outcomes[bad]["errors"]


def test_invoices_read_gives_the_lines_of_a_csv_invoice(tmp_path: Path) -> None:
    bill = tmp_path / "invoice.csv"
    bill.write_bytes(csv_invoice("INV-1", date(2026, 12, 1), "RBA", LINES))
    done = hgw("invoices", "read", str(bill), "--as", "csv", "--provider", "VNFKT", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = json.loads(done.stdout)["lines"]
    assert [(li["kind"], li["code"], li["quantity"], li["line_item"]) for li in lines] == [
        ("medicine", "39732311000001104", "28", "item-1"),
        ("service", "nurse-visit", "1", None),
    ]
    assert {li["short_form_id"] for li in lines} == {SHORT_FORM_ID}


def test_invoices_read_names_what_would_refuse_a_bill(tmp_path: Path) -> None:
    bill = tmp_path / "invoice.csv"
    bill.write_bytes(csv_invoice("INV-2", date(2026, 12, 1), "RBA", LINES, total_pence=1))  # the total is wrong
    done = hgw("invoices", "read", str(bill), "--as", "csv", "--provider", "VNFKT", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    issues = json.loads(done.stdout)["issues"]
    assert issues and all(i["message"] and i["location"] for i in issues), issues
    not_json = tmp_path / "claim.json"
    not_json.write_bytes(b"<not json>")
    done = hgw("invoices", "read", str(not_json), "--as", "claim", "--provider", "VNFKT", cwd=tmp_path)
    assert done.returncode == 1 and json.loads(done.stdout)["issues"][0]["location"].endswith("body")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)  # deeper than any parser's recursion: a located issue, no traceback
    done = hgw("invoices", "read", str(deep), "--as", "claim", "--provider", "VNFKT", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["issues"][0]["location"].endswith("body")
