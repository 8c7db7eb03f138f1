"""The validator's faces: OperationOutcome rendering, `$validate` and `metadata` routes, the CLI, bench figures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from gateway.api.errors import install_error_handlers
from gateway.api.routes.fhir_conformance import router
from gateway.bench.validator import bench_figures
from gateway.fhir.serialise import dumps_bundle
from gateway.validator.catalogue import SOURCE_EXTENSION, SPINE_ERROR_SYSTEM
from gateway.validator.cli import validate
from gateway.validator.outcome import VALIDATION_CODE_SYSTEM, operation_outcome
from gateway.validator.profiles import CAPABILITY_STATEMENT, HOMECARE_PRESCRIPTION_ORDER
from gateway.validator.validator import Validator


def test_outcome_carries_code_expression_profile_and_element(validator: Validator) -> None:
    outcome = operation_outcome(validator.validate({"resourceType": "Patient", "gender": "F"}))
    (issue,) = outcome["issue"]
    assert issue["severity"] == "error" and issue["code"] == "code-invalid"
    assert issue["details"]["coding"] == [{"system": VALIDATION_CODE_SYSTEM, "code": "CODE_NOT_IN_VALUESET"},
                                          {"system": SPINE_ERROR_SYSTEM, "code": "INVALID_VALUE"}]
    assert issue["expression"] == ["Patient.gender"]
    assert "[Patient.gender in http://hl7.org/fhir/StructureDefinition/Patient]" in issue["diagnostics"]
    assert {e["url"].rsplit("-", 1)[-1]: e for e in issue["extension"]}.keys() == {"ValidationProfile",
                                                                                     "ValidationElement",
                                                                                     "ValidationRuleSource"}
    [source] = [e for e in issue["extension"] if e["url"] == SOURCE_EXTENSION]
    assert source["valueCoding"]["code"] == "fhir-r4-core"
    assert validator.validate(outcome) == []  # our OperationOutcome is itself valid FHIR


def test_clean_outcome_has_one_information_issue() -> None:
    assert operation_outcome([])["issue"] == [{"severity": "information", "code": "informational",
                                               "diagnostics": "no issues found"}]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The router alone in an app, called in process (no socket, no store)."""
    app = FastAPI()
    app.state.gateway = SimpleNamespace(settings=SimpleNamespace(max_body_bytes=1_000_000))
    install_error_handlers(app)
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


def _codes(outcome: dict[str, Any]) -> list[str]:
    return [i.get("details", {}).get("coding", [{}])[0].get("code", i["code"]) for i in outcome["issue"]]


async def test_validate_route(client: httpx.AsyncClient, order: dict[str, Any]) -> None:
    body = dumps_bundle(order)
    response = await client.post("/FHIR/R4/$validate", content=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.json()["issue"][0]["diagnostics"] == "no issues found"
    order["entry"][1]["resource"]["intent"] = "original-order"
    params = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": json.loads(dumps_bundle(order))},
        {"name": "profile", "valueCanonical": HOMECARE_PRESCRIPTION_ORDER}]}
    assert _codes((await client.post("/FHIR/R4/$validate", json=params)).json()) == ["FIXED_VALUE_MISMATCH"]
    assert _codes((await client.post("/FHIR/R4/Bundle/$validate", content=body)).json()) == ["informational"]


async def test_validate_route_refuses_bad_requests(client: httpx.AsyncClient, order: dict[str, Any]) -> None:
    assert (await client.post("/FHIR/R4/$validate", content=b"{not json")).status_code == 400
    wrong_type = await client.post("/FHIR/R4/Patient/$validate", content=dumps_bundle(order))
    assert wrong_type.status_code == 400 and wrong_type.json()["resourceType"] == "OperationOutcome"
    unknown = await client.post("/FHIR/R4/$validate?profile=https://example.org/X", content=dumps_bundle(order))
    assert unknown.status_code == 400


async def test_metadata_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/FHIR/R4/metadata")
    assert response.status_code == 200
    assert response.json()["url"] == CAPABILITY_STATEMENT


def test_cli_json_and_exit_codes(tmp_path: Path, order: dict[str, Any]) -> None:
    good = tmp_path / "good.json"
    good.write_bytes(dumps_bundle(order))
    order["entry"][4]["resource"]["gender"] = "F"
    bad = tmp_path / "bad.json"
    bad.write_bytes(dumps_bundle(order))
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    runner = CliRunner()
    one = runner.invoke(validate, [str(good)])
    assert one.exit_code == 0 and json.loads(one.output)["resourceType"] == "OperationOutcome"
    both = runner.invoke(validate, [str(good), str(bad)])
    assert both.exit_code == 1
    assert [_codes(o) for o in json.loads(both.output)] == [["informational"], ["CODE_NOT_IN_VALUESET"]]
    assert runner.invoke(validate, [str(good), str(broken)]).exit_code == 2
    text = runner.invoke(validate, ["--format", "text", "--profile", HOMECARE_PRESCRIPTION_ORDER, str(bad)])
    assert text.exit_code == 1 and "Bundle.entry[4].resource.gender" in text.output
    assert runner.invoke(validate, ["--profile", "https://example.org/X", str(good)]).exit_code == 2


def test_bench_figures() -> None:
    figures = bench_figures(n=20)
    assert figures["bundle_entries"] == 8
    assert 0 < figures["validator_median_ms"] < figures["fhir_resources_r4b_parse_validate_median_ms"]


DATA = Path(__file__).resolve().parents[2] / "data" / "validator"


def test_golden_bad_order_through_the_cli() -> None:
    """tests/data/validator/bad-order.json: five faults, each located; its expected findings are checked in."""
    result = CliRunner().invoke(validate, ["--profile", HOMECARE_PRESCRIPTION_ORDER, str(DATA / "bad-order.json")])
    assert result.exit_code == 1
    found = [[i["severity"], i["details"]["coding"][0]["code"], i["expression"][0],
              next((e["valueString"] for e in i.get("extension", []) if e["url"].endswith("ValidationElement")), None)]
             for i in json.loads(result.output)["issue"]]
    assert found == json.loads((DATA / "bad-order.expected.json").read_text(encoding="utf-8"))


def test_golden_standard_order_is_clean() -> None:
    result = CliRunner().invoke(validate, ["--profile", HOMECARE_PRESCRIPTION_ORDER, str(DATA / "standard-order.json")])
    assert result.exit_code == 0, result.output
