"""The trust suite: files checked offline, and a trust system sending live to the suite's listener."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import httpx
import pytest

from adapters.jac.writer import render_export
from conformance.context import SuiteContext
from conformance.parties.exports import export_rows
from conformance.runner import RunResult, run_suite
from conformance.suites import suite_spec
from gateway.domain.identifiers import bad_nhs_check_digit
from gateway.simulate.trust import post_export
from tests.paths import DATA

FHIR_ORDER = DATA / "fhir_inbound" / "homecare-order-with-extensions" / "input.json"


async def _check(path: Path) -> RunResult:
    spec = suite_spec("trust")
    ctx = SuiteContext(f"file:{path}", timeout=5, out=lambda _: None)
    async with spec.session(ctx, "file"):
        return await run_suite(spec.suite, ctx, mode="file")


def _findings(result: RunResult) -> list[tuple[str, str, str | None]]:
    return [(r.id, f.requirement, f.location) for r in result.results for f in r.findings]


@pytest.mark.parametrize(
    "path",
    [
        DATA / "jac" / "valid_two_items" / "input.csv",
        DATA / "ascribe" / "valid_spec_example" / "input.xml",
        DATA / "hl7v2" / "valid_order" / "input.hl7",
        FHIR_ORDER,
    ],
    ids=["jac", "ascribe", "hl7v2", "fhir"],
)
async def test_reference_trust_files_pass(path: Path) -> None:
    result = await _check(path)
    assert result.exit_code == 0, [(r.id, r.outcome, r.message) for r in result.results]
    assert _findings(result) == []


async def test_bad_nhs_number_in_a_jac_file_is_located(tmp_path: Path) -> None:
    rows = export_rows(2, seed=4, provider_ods="VNFKT")
    bad = rows[0]["RxNumber"]
    for row in rows:
        if row["RxNumber"] == bad:
            row["NHSNumber"] = bad_nhs_check_digit(row["NHSNumber"])
    path = tmp_path / "export.csv"
    path.write_bytes(render_export(rows))
    result = await _check(path)
    assert result.exit_code == 1
    assert ("TRU-FILE-002", "TRU-ID-NHS", "line 2, column NHSNumber") in _findings(result)
    failed = next(r for r in result.results if r.id == "TRU-FILE-002")
    assert failed.outcome == "fail" and bad in failed.message


def _bad_short_form(order: dict[str, object]) -> dict[str, object]:
    broken = copy.deepcopy(order)
    for entry in broken["entry"]:  # type: ignore[union-attr]
        resource = entry["resource"]
        if resource["resourceType"] == "MedicationRequest":
            value = resource["groupIdentifier"]["value"]
            check = "A" if value[-1] != "A" else "B"
            resource["groupIdentifier"]["value"] = value[:-1] + check
    return broken


async def test_trust_message_with_bad_short_form_id_fails_live() -> None:
    spec = suite_spec("trust")
    ctx = SuiteContext("listen://127.0.0.1:0", timeout=60, out=lambda _: None)
    order = _bad_short_form(json.loads(FHIR_ORDER.read_text()))

    async def trust_system() -> None:
        async with asyncio.timeout(10):
            while "base_url" not in ctx.state:
                await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=ctx.state["base_url"], timeout=120) as client:  # answers run hgw
            await client.post(
                "/FHIR/R4/$process-message",
                json=order,
                headers={"Content-Type": "application/fhir+json", "Authorization": "Bearer conformance"},
            )

    sending = asyncio.create_task(trust_system())
    async with spec.session(ctx, "live"):
        result = await run_suite(spec.suite, ctx, mode="live")
        await sending
    outcomes = {r.id: r.outcome for r in result.results}
    assert outcomes["TRU-LIVE-001"] == outcomes["TRU-LIVE-002"] == "pass"
    assert outcomes["TRU-FILE-002"] == "fail"
    findings = _findings(result)
    assert ("TRU-FILE-002", "TRU-ID-SFID", "Bundle.entry[1].resource.groupIdentifier.value") in findings
    assert result.exit_code == 1


async def test_reference_trust_simulator_passes_live() -> None:
    spec = suite_spec("trust")
    ctx = SuiteContext("listen://127.0.0.1:0", timeout=60, out=lambda _: None)

    async def trust_system() -> dict[str, object]:
        async with asyncio.timeout(10):
            while "base_url" not in ctx.state:
                await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=ctx.state["base_url"], timeout=120) as client:  # answers run hgw
            return await post_export(client, export_rows(3, seed=2, provider_ods="VNFKT"))

    sending = asyncio.create_task(trust_system())
    async with spec.session(ctx, "live"):
        result = await run_suite(spec.suite, ctx, mode="live")
        answer = await sending
    assert answer["file_rejected"] is False  # the listener answered like the gateway would
    outcomes = {r.id: r.outcome for r in result.results}
    # the simulator posts without credentials: a SHOULD warning, not a failure
    assert outcomes == {
        "TRU-LIVE-001": "pass",
        "TRU-LIVE-002": "pass",
        "TRU-FILE-001": "pass",
        "TRU-FILE-002": "pass",
        "TRU-FILE-003": "pass",
        "TRU-FILE-004": "skip",
    }
    assert [(f.requirement, f.level) for r in result.results for f in r.findings] == [("TRU-LIVE-3", "SHOULD")]
    assert result.exit_code == 0


async def test_nothing_sent_fails_after_the_timeout() -> None:
    spec = suite_spec("trust")
    ctx = SuiteContext("listen://127.0.0.1:0", timeout=0.2, out=lambda _: None)
    async with spec.session(ctx, "live"):
        result = await run_suite(spec.suite, ctx, mode="live")
    first = result.results[0]
    assert (first.id, first.outcome, first.findings[0].requirement) == ("TRU-LIVE-001", "fail", "TRU-LIVE-1")
    assert {r.outcome for r in result.results[1:]} == {"skip"}
