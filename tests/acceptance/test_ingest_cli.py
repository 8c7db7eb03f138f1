"""`python -m gateway.cli ingest` as a subprocess: bundles for a good export, located errors for a bad one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adapters.jac import render_export
from gateway.domain.identifiers import is_valid_nhs_number
from gateway.simulate.directory import SAMPLE_ORGANISATIONS
from gateway.simulate.samples import export_rows
from tests.acceptance.processes import hgw

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"


def configure(folder: Path) -> None:
    """What EPS needs of the sample trust and exports do not carry, stored under `folder`/data as a trust's
    administrator would (`hgw ingest` there reads it, as a live export would)."""
    org = next(o for o in SAMPLE_ORGANISATIONS if o.ods == "RBA")
    address = ", ".join((*org.address.lines, org.address.postcode))
    for args in (
        ("db", "upgrade"),
        ("organisations", "add", "--ods", "RBA", "--name", org.name, "--address", address, "--telecom", "01823 333444"),
        ("organisations", "contact", "--ods", "RBA", "--telecom", "01632 960100", "--job-role", "R8000"),
    ):
        done = hgw(*args, cwd=folder, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_without_the_trusts_configuration_each_prescription_says_what_to_configure(tmp_path: Path) -> None:
    file = tmp_path / "export.csv"
    file.write_bytes(render_export(export_rows(1)))
    done = hgw("ingest", str(file), "--provider", "VNFKT", cwd=tmp_path, timeout=60)
    assert done.returncode == 1, done.stdout
    (rejected,) = json.loads(done.stdout)["prescriptions"]
    assert {i["code"] for i in rejected["issues"]} == {"EPS_NOT_CONFIGURED"}
    assert not (tmp_path / "data").exists()  # reading the configuration created no store


def ingest(file: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """Run the installed CLI outside the source tree, with no HGW_ settings of the machine running the tests."""
    configure(file.parent)
    done = hgw("ingest", str(file), *extra, cwd=file.parent, timeout=60)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_valid_export_gives_one_bundle_per_prescription_for_the_provider(tmp_path: Path) -> None:
    rows = export_rows(4)
    rx_numbers = sorted({r["RxNumber"] for r in rows})
    assert len(rx_numbers) == 4 and len(rows) > 4  # some prescriptions carry an ancillary line
    file = tmp_path / "export.csv"
    file.write_bytes(render_export(rows))

    code, out = ingest(file, "--provider", "VNFKT")

    assert code == 0, out
    assert (out["format"], out["file_rejected"], out["file_issues"]) == ("jac", False, [])
    assert sorted(p["rx_number"] for p in out["prescriptions"]) == rx_numbers
    for p in out["prescriptions"]:
        assert p["outcome"] == "accepted", p["issues"]
        bundle = p["bundle"]
        assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "message")
        header = bundle["entry"][0]["resource"]
        assert header["resourceType"] == "MessageHeader"
        assert header["eventCoding"]["code"] == "prescription-order"
        receivers = [d["receiver"]["identifier"] for d in header["destination"]]
        assert receivers == [{"system": ODS_SYSTEM, "value": "VNFKT"}]
        assert header["sender"]["identifier"] == {"system": ODS_SYSTEM, "value": "RBA"}


def test_bad_nhs_number_is_located_by_line_and_column(tmp_path: Path) -> None:
    rows = export_rows(2, seed=3)
    bad_rx = rows[0]["RxNumber"]
    assert not is_valid_nhs_number("9434765918")
    for row in rows:
        if row["RxNumber"] == bad_rx:
            row["NHSNumber"] = "9434765918"
    file = tmp_path / "export.csv"
    file.write_bytes(render_export(rows))

    code, out = ingest(file, "--provider", "VNFKT")

    assert code == 1
    assert out["file_rejected"] is False
    outcomes = {p["rx_number"]: p for p in out["prescriptions"]}
    bad = outcomes.pop(bad_rx)
    assert bad["outcome"] == "rejected"
    assert "bundle" not in bad
    nhs_issues = [i for i in bad["issues"] if i.get("column") == "NHSNumber"]
    assert nhs_issues, bad["issues"]
    assert nhs_issues[0]["line"] == 2  # line 1 is the header
    assert nhs_issues[0]["code"] == "INVALID_NHS_NUMBER"
    assert nhs_issues[0]["value"] == "9434765918"
    assert [p["outcome"] for p in outcomes.values()] == ["accepted"]


def test_a_file_that_is_not_csv_is_rejected_as_a_whole(tmp_path: Path) -> None:
    file = tmp_path / "scan.pdf"
    file.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\x00\x00endobj\n")

    code, out = ingest(file, "--provider", "VNFKT")

    assert code == 1
    assert out["file_rejected"] is True
    assert out["prescriptions"] == []
    assert [i["severity"] for i in out["file_issues"]] == ["error"]
    assert out["file_issues"][0]["code"] == "NOT_CSV"
