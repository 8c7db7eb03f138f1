"""The conformance CLI offline: check-file, exit codes, the three report formats, sessions, rerun and compare."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from adapters.jac.writer import render_export
from conformance.capture import redact_body, redact_headers
from conformance.model import ExitCode
from conformance.parties.exports import export_rows
from conformance.requirements import CATALOGUE
from conformance.suites import suite_spec
from gateway.cli import cli
from gateway.domain.identifiers import bad_nhs_check_digit


def _export(tmp_path: Path, *, bad_nhs: bool) -> Path:
    rows = export_rows(2, seed=4, provider_ods="VNFKT")
    if bad_nhs:
        for row in rows:
            if row["RxNumber"] == rows[0]["RxNumber"]:
                row["NHSNumber"] = bad_nhs_check_digit(row["NHSNumber"])
    path = tmp_path / ("bad.csv" if bad_nhs else "good.csv")
    path.write_bytes(render_export(rows))
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_check_file_reports_in_every_format(tmp_path: Path) -> None:
    bad = _export(tmp_path, bad_nhs=True)
    code, out = _invoke(
        "conformance",
        "check-file",
        str(bad),
        "--report-json",
        str(tmp_path / "r.json"),
        "--junit",
        str(tmp_path / "j.xml"),
        "--html",
        str(tmp_path / "r.html"),
        "--no-session",
    )
    assert code == ExitCode.FAILED
    assert "FAIL  TRU-FILE-002" in out and "TRU-ID-NHS [line 2, column NHSNumber]" in out

    report = json.loads((tmp_path / "r.json").read_text())
    assert report["schema"] == "hgw-conformance-report/1"
    assert {
        "suite",
        "target",
        "started",
        "finished",
        "verdict",
        "exit_code",
        "summary",
        "requirements",
        "tests",
        "exchanges",
        "invocation",
    } <= report.keys()
    assert report["verdict"] == "fail" and report["exit_code"] == 1
    test = next(t for t in report["tests"] if t["id"] == "TRU-FILE-002")
    assert test["outcome"] == "fail"
    finding = test["findings"][0]
    assert finding == {
        "requirement": "TRU-ID-NHS",
        "level": "SHALL",
        "severity": "failure",
        "location": "line 2, column NHSNumber",
        "message": finding["message"],
    }
    assert report["requirements"]["TRU-ID-NHS"]["source"].startswith("specs/jac-homecare-export.md")
    assert set(report["summary"]) == {"pass", "fail", "skip", "error", "warnings"}

    junit = ET.parse(tmp_path / "j.xml").getroot()  # noqa: S314 - the report this test just wrote
    assert junit.get("failures") == "1" and junit.get("tests") == str(len(report["tests"]))
    failure = junit.find(".//testcase/failure")
    assert failure is not None and "TRU-ID-NHS at line 2, column NHSNumber" in (failure.text or "")
    requirements = [p.get("value") for p in junit.iter("property")]
    assert "TRU-ID-NHS" in requirements

    html = (tmp_path / "r.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html and "TRU-ID-NHS" in html
    assert not re.search(r"<(link|script|img|iframe)\b|\b(src|href)\s*=|@import|url\(", html)


def test_good_file_passes_and_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _invoke("conformance", "check-file", str(_export(tmp_path, bad_nhs=False)), "--no-session")[0] == 0
    (tmp_path / "preset.json").write_text('{"trust": {"ods": "RBA"}}')
    code, out = _invoke(
        "conformance",
        "run",
        "--suite",
        "gateway",
        "--target",
        "http://127.0.0.1:9",
        "--preset",
        str(tmp_path / "preset.json"),
        "--no-session",
    )
    assert code == ExitCode.USAGE and "trust is incomplete" in out
    code, _ = _invoke("conformance", "run", "--suite", "gateway", "--target", "listen://127.0.0.1:0", "--no-session")
    assert code == ExitCode.USAGE
    code, out = _invoke("conformance", "run", "--suite", "gateway", "--target", "http://127.0.0.1:9", "--no-session")
    assert code == ExitCode.USAGE and "needs a --preset with trust and provider" in out
    code, out = _invoke(
        "conformance",
        "run",
        "--suite",
        "trust",
        "--target",
        "file:/nonexistent/x.csv",
        "--test",
        "NO-SUCH-TEST",
        "--no-session",
    )
    assert code == ExitCode.USAGE and "NO-SUCH-TEST" in out


def test_unreachable_target_exits_3(tmp_path: Path) -> None:
    code, out = _invoke(
        "conformance", "run", "--suite", "provider", "--target", "http://127.0.0.1:9/FHIR/R4/$process-message",
        "--timeout", "2", "--report-json", str(tmp_path / "r.json"), "--no-session",
    )  # fmt: skip
    assert code == ExitCode.UNREACHABLE, out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "unreachable" and report["unreachable"]
    assert {t["outcome"] for t in report["tests"]} == {"error"}
    assert report["exchanges"][0]["error"].startswith("ConnectError")  # the probe, and why it got no answer


def test_sessions_rerun_failed_and_compare(tmp_path: Path) -> None:
    bad = _export(tmp_path, bad_nhs=True)
    sessions = tmp_path / "sessions"
    assert _invoke("conformance", "check-file", str(bad), "--sessions", str(sessions))[0] == 1
    first = next(sessions.iterdir())
    saved = json.loads((first / "run.json").read_text())
    assert "exchanges" not in saved and saved["invocation"]["suite"] == "trust"

    # the file is fixed; rerunning the failed test now passes, and the comparison names the difference
    bad.write_bytes(_export(tmp_path, bad_nhs=False).read_bytes())
    code, out = _invoke(
        "conformance",
        "rerun",
        str(first),
        "--failed",
        "--report-json",
        str(tmp_path / "again.json"),
        "--sessions",
        str(sessions),
    )
    assert code == 0, out
    again = json.loads((tmp_path / "again.json").read_text())
    assert [t["id"] for t in again["tests"]] == ["TRU-FILE-002"]
    assert again["invocation"]["rerun_of"] == str(first)
    code, out = _invoke("conformance", "compare", str(tmp_path / "again.json"), str(first))
    assert code == 1
    assert "TRU-FILE-002: expected fail ['TRU-ID-NHS'], got pass" in out
    assert "TRU-FILE-001: expected pass, got absent" in out
    assert _invoke("conformance", "compare", str(first), str(first))[0] == 0
    code, out = _invoke("conformance", "rerun", str(tmp_path / "again.json"), "--failed", "--no-session")
    assert code == ExitCode.USAGE and "nothing to rerun" in out


def test_rerun_of_a_test_brings_its_dependencies() -> None:
    from conformance.runner import select

    suite = suite_spec("gateway").suite
    assert select(suite, tests=["GW-FLOW-003"]) == ["GW-FLOW-001", "GW-FLOW-002", "GW-FLOW-003"]
    assert select(suite, groups=["GW-META"]) == [f"GW-META-00{n}" for n in range(1, 6)]


def test_every_test_cites_known_requirements_and_ids_are_unique() -> None:
    ids = []
    for name in ("gateway", "provider", "trust"):
        for test in suite_spec(name).suite.tests():
            ids.append(test.id)
            assert test.requirements and set(test.requirements) <= CATALOGUE.keys(), test.id
            assert re.fullmatch(r"(GW|PRV|TRU)-[A-Z]+-\d{3}", test.id)
    assert len(ids) == len(set(ids))


def test_secrets_are_redacted() -> None:
    headers = redact_headers({"Authorization": "Bearer abc", "Cookie": "s=1", "Content-Type": "text/csv"})
    assert headers == {"authorization": "[redacted]", "cookie": "[redacted]", "content-type": "text/csv"}
    form = redact_body(
        b"grant_type=client_credentials&client_assertion=eyJhbGciOi.eyJpc3Mi.sig", "application/x-www-form-urlencoded"
    )
    assert "eyJ" not in form and "grant_type=client_credentials" in form
    token = redact_body(b'{"access_token": "opaque-123", "token_type": "Bearer"}', "application/json")
    assert "opaque-123" not in token and "Bearer" in token


async def test_roll_up_should_is_a_warning_and_errors_make_the_run_incomplete() -> None:
    from conformance.context import SuiteContext
    from conformance.model import Suite, TestRun
    from conformance.runner import run_suite

    suite = Suite("demo", "roll-up")
    group = suite.group("X-ROLL", "roll-up")

    @group.test("X-ROLL-001", "a SHOULD does not hold", requirements=["PRV-MSG-4"])
    async def should(ctx: SuiteContext, t: TestRun) -> None:
        t.check(False, "PRV-MSG-4", "answered transient-error", "Bundle.entry[0].resource.response.code")

    @group.test("X-ROLL-002", "the suite trips", requirements=["PRV-MSG-1"])
    async def trips(ctx: SuiteContext, t: TestRun) -> None:
        raise KeyError("entry")

    @group.test("X-ROLL-003", "depends on the one that erred", requirements=["PRV-MSG-1"], depends=["X-ROLL-002"])
    async def later(ctx: SuiteContext, t: TestRun) -> None:
        raise AssertionError("never run")

    result = await run_suite(suite, SuiteContext("http://unused", out=lambda _: None))
    outcomes = [(r.id, r.outcome) for r in result.results]
    assert outcomes == [("X-ROLL-001", "pass"), ("X-ROLL-002", "error"), ("X-ROLL-003", "skip")]
    assert result.results[0].warnings == 1 and result.results[0].findings[0].severity == "warning"
    assert "KeyError" in result.results[1].message
    assert result.results[2].message == "needs X-ROLL-002 (error)"
    assert result.exit_code == ExitCode.INCOMPLETE
    assert result.as_dict()["verdict"] == "incomplete"
