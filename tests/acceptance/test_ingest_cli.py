"""`hgw ingest FILE [--format] [--json]` as a subprocess, to its contract: one outcome per prescription, exit 0/1/2."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.jac import render_export
from conformance.parties.exports import export_rows
from gateway.cli import cli
from gateway.domain.identifiers import is_valid_nhs_number
from tests.acceptance.processes import hgw
from tests.paths import DATA, EPS_EXAMPLES

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
ERROR_KEYS = {"location", "field", "value", "expected", "message", "code"}
OUTCOME_KEYS = {"ref", "version", "action", "lines", "outcome", "errors", "warnings", "bundle"}


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding what the trust administers once (`hgw organisations add|contact`), made by the
    commands themselves: without it every prescription is refused, saying what to configure. Made once per module,
    in this process (as a subprocess each step costs a Python start-up; `hgw ingest`, the command under test, runs
    as one), without the HGW_ settings of the machine running the tests, and copied into each test's working
    directory."""
    cwd = tmp_path_factory.mktemp("configured")
    runner = CliRunner(env={name: None for name in os.environ if name.upper().startswith("HGW_")})
    steps = (
        ("db", "upgrade"),
        ("organisations", "add", "--ods", "RBA", "--name", "TAUNTON AND SOMERSET NHS FOUNDATION TRUST",
         "--address", "MUSGROVE PARK HOSPITAL,TAUNTON,TA1 5DA", "--telecom", "01823 333444"),
        ("organisations", "contact", "--ods", "RBA", "--telecom", "01632 960000", "--job-role", "R8000"),
        ("organisations", "add", "--ods", "RTH", "--name", "OXFORD UNIVERSITY HOSPITALS NHS FOUNDATION TRUST",
         "--address", "JOHN RADCLIFFE HOSPITAL,HEADLEY WAY,OXFORD,OX3 9DU", "--telecom", "01632 960002"),
        ("organisations", "contact", "--ods", "RTH", "--telecom", "01632 960003", "--job-role", "R8000"),
    )  # fmt: skip
    for step in steps:
        done = runner.invoke(cli, ["--data-dir", str(cwd / "data"), *step])
        assert done.exit_code == 0, done.output
    return cwd / "data"


@pytest.fixture(autouse=True)
def _configured_template(configured: Path) -> Iterator[None]:
    _TEMPLATE.append(configured)
    yield
    _TEMPLATE.clear()


_TEMPLATE: list[Path] = []


def _configure_trust(cwd: Path) -> None:
    """The configured data directory, copied into `cwd` unless the test made its own."""
    if not (cwd / "data").exists():
        shutil.copytree(_TEMPLATE[0], cwd / "data")


def ingest(file: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """`hgw ingest FILE --json …` outside the source tree, with no HGW_ settings of the machine running the tests."""
    _configure_trust(file.parent)
    done = hgw("ingest", str(file), "--json", *extra, cwd=file.parent, timeout=60)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def _export(tmp_path: Path, rows: list[dict[str, str]], name: str = "export.csv") -> Path:
    file = tmp_path / name
    file.write_bytes(render_export(rows))
    return file


def _event(bundle: dict[str, Any]) -> str:
    code: str = bundle["entry"][0]["resource"]["eventCoding"]["code"]
    return code


def test_an_unconfigured_trust_is_refused_saying_what_to_configure(tmp_path: Path) -> None:
    file = _export(tmp_path, export_rows(1))
    done = hgw("ingest", str(file), "--json", "--provider", "VNFKT", cwd=tmp_path, timeout=60)

    assert done.returncode == 1, done.stderr
    (outcome,) = json.loads(done.stdout)["outcomes"]
    messages = " ".join(e["message"] for e in outcome["errors"])
    assert outcome["outcome"] == "rejected" and outcome["bundle"] is None
    assert "hgw organisations add --ods RBA" in messages and "hgw organisations contact --ods RBA" in messages
    assert {e["code"] for e in outcome["errors"]} == {"EPS_NOT_CONFIGURED"}
    assert not (tmp_path / "data").exists()  # reading the configuration created no store


def test_valid_export_gives_one_bundle_per_prescription_for_the_provider(tmp_path: Path) -> None:
    rows = export_rows(4)
    rx_numbers = sorted({r["RxNumber"] for r in rows})
    assert len(rx_numbers) == 4 and len(rows) > 4  # some prescriptions carry an ancillary line

    code, out = ingest(_export(tmp_path, rows), "--provider", "VNFKT")

    assert code == 0, out
    assert set(out) >= {"outcomes", "file_errors"} and out["file_errors"] == [] and out["format"] == "jac"
    assert sorted(o["ref"] for o in out["outcomes"]) == rx_numbers
    for o in out["outcomes"]:
        assert set(o) == OUTCOME_KEYS
        assert (o["outcome"], o["errors"], o["action"]) == ("accepted", [], "NEW"), o["errors"]
        bundle = o["bundle"]
        assert (bundle["resourceType"], bundle["type"], _event(bundle)) == ("Bundle", "message", "prescription-order")
        header = bundle["entry"][0]["resource"]
        receivers = [d["receiver"]["identifier"] for d in header["destination"]]
        assert receivers == [{"system": ODS_SYSTEM, "value": "VNFKT"}]
        assert header["sender"]["identifier"] == {"system": ODS_SYSTEM, "value": "RBA"}


def test_a_rejected_prescription_has_located_errors_and_the_others_go_on(tmp_path: Path) -> None:
    rows = export_rows(2, seed=3)
    bad_rx = rows[0]["RxNumber"]
    assert not is_valid_nhs_number("9434765918")
    for row in rows:
        if row["RxNumber"] == bad_rx:
            row["NHSNumber"] = "9434765918"

    code, out = ingest(_export(tmp_path, rows), "--provider", "VNFKT")

    assert code == 1
    assert out["file_errors"] == []
    outcomes = {o["ref"]: o for o in out["outcomes"]}
    bad = outcomes.pop(bad_rx)
    assert (bad["outcome"], bad["bundle"]) == ("rejected", None)
    [error] = [e for e in bad["errors"] if e["field"] == "NHSNumber"]
    assert set(error) == ERROR_KEYS
    assert error["location"] == "line 2, column NHSNumber"  # line 1 is the header
    assert (error["code"], error["value"]) == ("INVALID_NHS_NUMBER", "9434765918")
    assert error["message"]
    assert [o["outcome"] for o in outcomes.values()] == ["accepted"]


def test_a_file_that_is_not_csv_is_rejected_as_a_whole_with_exit_2(tmp_path: Path) -> None:
    file = tmp_path / "scan.csv"
    file.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\x00\x00endobj\n")

    code, out = ingest(file, "--provider", "VNFKT")

    assert code == 2
    assert out["outcomes"] == []
    [error] = out["file_errors"]
    assert set(error) == ERROR_KEYS and error["code"] == "NOT_CSV"


def test_amend_and_cancel_lines_show_their_own_outcome(tmp_path: Path) -> None:
    new, amended, cancelled = (export_rows(1, seed=s) for s in (11, 12, 13))
    amend = [row | {"Action": "AMEND", "RxVersion": "2"} for row in amended]
    cancel = [row | {"Action": "CANCEL", "CancelReason": "At the Patient's request"} for row in cancelled]

    code, out = ingest(_export(tmp_path, new + amend + cancel), "--provider", "VNFKT")

    assert code == 0, out
    by_action = {o["action"]: o for o in out["outcomes"]}
    assert set(by_action) == {"NEW", "AMEND", "CANCEL"}
    assert all(o["outcome"] == "accepted" for o in by_action.values())
    assert _event(by_action["NEW"]["bundle"]) == _event(by_action["AMEND"]["bundle"]) == "prescription-order"
    update = by_action["CANCEL"]["bundle"]
    assert _event(update) == "prescription-order-update"
    requests = [e["resource"] for e in update["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]
    assert [r["status"] for r in requests] == ["cancelled"]  # EPS cancels one line per message
    assert requests[0]["statusReason"]["coding"][0]["code"] == "0005"  # At the Patient's request
    # One message per line item: `parts` holds every one, `bundle` being the first.
    updates = by_action["CANCEL"]["parts"]
    assert len(updates) == len(cancelled) == 2 and updates[0] == update
    lines = [
        [e["resource"]["id"] for e in u["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]
        for u in updates
    ]
    assert [len(ids) for ids in lines] == [1, 1] and lines[0] != lines[1]
    # What only the running gateway can check (the version replaced, the original ids) is said, as a warning.
    for action in ("AMEND", "CANCEL"):
        assert [w["code"] for w in by_action[action]["warnings"]] == ["NOT_CHECKED_OFFLINE"]
    assert by_action["NEW"]["warnings"] == []


def test_a_bad_cancel_is_rejected_alone(tmp_path: Path) -> None:
    rows = export_rows(2, seed=21)
    bad_rx = rows[-1]["RxNumber"]
    rows = [r | {"Action": "CANCEL", "RxVersion": "0"} if r["RxNumber"] == bad_rx else r for r in rows]

    code, out = ingest(_export(tmp_path, rows), "--provider", "VNFKT")

    assert code == 1
    outcomes = {o["ref"]: o for o in out["outcomes"]}
    assert outcomes.pop(bad_rx)["outcome"] == "rejected"
    assert [o["outcome"] for o in outcomes.values()] == ["accepted"]


def test_ascribe_cancel_without_the_order_is_accepted_without_a_bundle(tmp_path: Path) -> None:
    file = tmp_path / "export.xml"
    shutil.copy(DATA / "ascribe/valid_cancel_and_amend/input.xml", file)

    code, out = ingest(file, "--provider", "VNFKT")

    assert code == 0, out
    assert out["format"] == "ascribe"
    by_action = {o["action"]: o for o in out["outcomes"]}
    assert _event(by_action["AMEND"]["bundle"]) == "prescription-order"
    cancel = by_action["CANCEL"]
    assert (cancel["outcome"], cancel["bundle"]) == ("accepted", None)
    assert "the gateway builds the prescription-order-update" in cancel["warnings"][0]["message"]


def test_format_is_detected_or_given(tmp_path: Path) -> None:
    hl7 = (DATA / "hl7v2/valid_order/input.hl7").read_bytes()
    detected = tmp_path / "order.hl7"
    detected.write_bytes(hl7)
    unnamed = tmp_path / "order.txt"
    unnamed.write_bytes(hl7)

    assert ingest(detected, "--provider", "VNFKT")[1]["format"] == "hl7v2"
    assert ingest(unnamed, "--provider", "VNFKT")[1]["format"] == "hl7v2"  # MSH first: HL7 v2
    code, forced = ingest(unnamed, "--format", "jac")
    assert (code, forced["format"], forced["outcomes"]) == (2, "jac", [])  # not a JAC header


def test_an_eps_message_is_its_own_bundle(tmp_path: Path) -> None:
    example = EPS_EXAMPLES / "secondary-care/community/acute/nominated-pharmacy/clinical-practitioner"
    file = tmp_path / "order.json"
    shutil.copy(example / "1-Process-Request-Send-200_OK.json", file)

    code, out = ingest(file, "--format", "fhir")

    assert code == 0, out
    [outcome] = out["outcomes"]
    assert outcome["outcome"] == "accepted"
    assert outcome["bundle"] == json.loads(file.read_text())  # goes on unchanged


def test_an_eps_message_with_decimal_quantities_is_printed_as_it_came(tmp_path: Path) -> None:
    file = tmp_path / "order.json"
    shutil.copy(DATA / "fhir_inbound" / "homecare-order-with-extensions" / "input.json", file)
    assert '"value": 0.4' in file.read_text()  # a decimal quantity: printing it used to fail

    code, out = ingest(file, "--format", "fhir")

    assert code == 0, out
    assert out["outcomes"][0]["bundle"] == json.loads(file.read_text())


def test_without_json_bundles_go_to_stdout_and_located_errors_to_stderr(tmp_path: Path) -> None:
    rows = export_rows(2, seed=5)
    bad_rx = rows[0]["RxNumber"]
    rows = [r | {"NHSNumber": "9434765918"} if r["RxNumber"] == bad_rx else r for r in rows]
    file = _export(tmp_path, rows)
    _configure_trust(tmp_path)

    done = hgw("ingest", str(file), "--provider", "VNFKT", cwd=tmp_path, timeout=60)

    assert done.returncode == 1
    bundle = json.loads(done.stdout)  # the one accepted prescription's bundle
    assert _event(bundle) == "prescription-order"
    assert f"{bad_rx} v1: rejected" in done.stderr and f"{rows[-1]['RxNumber']} v1 NEW: accepted" in done.stderr
    assert "error line 2, column NHSNumber:" in done.stderr and "'9434765918'" in done.stderr
