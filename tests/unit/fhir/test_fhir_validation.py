"""`validate_resource`: R4B model errors and Bundle structure problems, located by FHIRPath, never raised."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.domain.model import HomecarePrescription
from gateway.errors import Issue
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.validation import fhirpath, validate_resource
from gateway.simulate.directory import sample_prescribing
from tests.paths import EPS_EXAMPLES

DATA = Path(__file__).resolve().parents[2] / "data" / "fhir"


@pytest.fixture
def bundle() -> dict[str, Any]:
    p = HomecarePrescription.model_validate_json((DATA / "order-injectable-with-ancillary" / "input.json").read_bytes())
    prescribing = sample_prescribing(p.trust_ods, p.site_code)
    return build_prescription_order(
        p, OrderIds.new(p), provider_ods="FTX40", source_endpoint="https://gw.example", prescribing=prescribing
    )


def errors(issues: list[Issue]) -> list[tuple[str, str | None]]:
    return [(i.code, i.location.path) for i in issues if i.severity == "error"]


def test_a_built_order_is_valid(bundle: dict[str, Any]) -> None:
    assert validate_resource(bundle) == []


def test_bad_decimal_is_located_by_fhirpath(bundle: dict[str, Any]) -> None:
    bundle["entry"][1]["resource"]["dispenseRequest"]["quantity"]["value"] = "abc"
    (issue,) = validate_resource(bundle)
    assert issue.code == "INVALID_FHIR"
    assert issue.location.path == "Bundle.entry[1].resource.dispenseRequest.quantity.value"
    assert issue.value == "abc"
    assert "ValidationError" not in issue.message


def test_missing_required_and_unknown_elements(bundle: dict[str, Any]) -> None:
    del bundle["entry"][2]["resource"]["subject"]
    bundle["entry"][3]["resource"]["nickname"] = "Janey"
    bundle["entry"][3]["resource"]["birthDate"] = "14/02/1968"
    found = {(i.location.path, i.message) for i in validate_resource(bundle)}
    assert ("Bundle.entry[2].resource.subject", "required element is missing") in found
    assert ("Bundle.entry[3].resource.nickname", "unknown element") in found
    assert any(path == "Bundle.entry[3].resource.birthDate" for path, _ in found)


def test_dangling_urn_uuid_reference(bundle: dict[str, Any]) -> None:
    bundle["entry"][1]["resource"]["subject"]["reference"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    assert errors(validate_resource(bundle)) == [("UNRESOLVED_REFERENCE", "Bundle.entry[1].resource.subject.reference")]


def test_urn_uuid_references_resolve_regardless_of_case(bundle: dict[str, Any]) -> None:
    subject = bundle["entry"][1]["resource"]["subject"]
    subject["reference"] = subject["reference"].upper().replace("URN:UUID:", "urn:uuid:")
    assert validate_resource(bundle) == []


def test_duplicate_full_url(bundle: dict[str, Any]) -> None:
    bundle["entry"][2]["fullUrl"] = bundle["entry"][1]["fullUrl"]
    issues = errors(validate_resource(bundle))
    assert ("DUPLICATE_FULL_URL", "Bundle.entry[2].fullUrl") in issues


def test_message_header_must_come_first(bundle: dict[str, Any]) -> None:
    bundle["entry"].append(bundle["entry"].pop(0))
    assert errors(validate_resource(bundle)) == [("MESSAGE_HEADER_NOT_FIRST", "Bundle.entry[0]")]


def test_unknown_entry_resource_type_is_located_and_the_rest_still_checked(bundle: dict[str, Any]) -> None:
    bundle["entry"][4]["resource"]["resourceType"] = "Prescriber"
    bundle["entry"][1]["resource"]["status"] = 7
    found = errors(validate_resource(bundle))
    assert ("INVALID_FHIR", "Bundle.entry[4].resource.resourceType") in found
    assert ("INVALID_FHIR", "Bundle.entry[1].resource.status") in found


@pytest.mark.parametrize("resource", [[], "Bundle", {"resourceType": "Nope"}, {"id": "x"}])
def test_not_a_resource(resource: Any) -> None:
    (issue,) = validate_resource(resource)
    assert issue.code == "INVALID_FHIR"


def test_fhirpath_drops_pydantic_internal_steps() -> None:
    assert fhirpath("Bundle", ("entry", 3, "resource", "function-after[x]", "_code", "extension", 0)) == (
        "Bundle.entry[3].resource.code.extension[0]"
    )


def _eps_bundles() -> list[Path]:
    if not EPS_EXAMPLES.is_dir():
        return []
    return sorted(p for p in EPS_EXAMPLES.rglob("*.json") if json.loads(p.read_bytes()).get("resourceType") == "Bundle")


# Published EPS examples the validator rejects, and why. Everything else must pass without errors.
KNOWN_INVALID = {
    # PractitionerRole.code.coding.display is "": FHIR strings must not be empty (an EPS *response*).
    "spec/errors/prescription-order-update/bundle-success.json": {"INVALID_FHIR"},
}


@pytest.mark.parametrize("path", _eps_bundles(), ids=lambda p: str(p.relative_to(EPS_EXAMPLES)))
def test_published_eps_bundles(path: Path) -> None:
    issues = validate_resource(json.loads(path.read_bytes(), parse_float=Decimal))
    codes = {i.code for i in issues if i.severity == "error"}
    assert codes == KNOWN_INVALID.get(str(path.relative_to(EPS_EXAMPLES)), set()), [i.as_dict() for i in issues]


def test_validation_does_not_change_its_input(bundle: dict[str, Any]) -> None:
    bundle["entry"][4]["resource"]["resourceType"] = "Prescriber"
    before = copy.deepcopy(bundle)
    validate_resource(bundle)
    assert bundle == before
