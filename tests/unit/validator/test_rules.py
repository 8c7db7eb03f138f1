"""Smaller rules: primitives, structure, references inside and outside Bundles, displays, discriminators."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.validator import Validator
from gateway.validator.package import Package
from gateway.validator.primitives import CHECKS
from tests.unit.validator.conftest import errors


@pytest.mark.parametrize(("type_code", "good", "bad"), [
    ("date", ["2026", "2026-02", "2026-02-28"], ["2026-02-30", "26-02-01", "2026-2-1", ""]),
    ("dateTime", ["2026-02-28T10:00:00Z", "2026-02-28T10:00:00.5+01:00", "2026"],
     ["2026-02-28T10:00", "2026-02-28T25:00:00Z"]),
    ("instant", ["2026-02-28T10:00:00Z"], ["2026-02-28", "2026-02-28T10:00:00"]),
    ("id", ["a-B.1"], ["a b", "x" * 65]),
    ("code", ["in-progress", "a b"], [" a", "a  b"]),
    ("integer", [0, -5], [1.5, "1", True]),
    ("positiveInt", [1], [0]),
    ("unsignedInt", [0], [-1]),
    ("boolean", [True], ["true", 1]),
    ("decimal", [1, 1.5], ["1.5", True]),
    ("uri", ["urn:uuid:x"], ["has space", ""]),
    ("uuid", ["urn:uuid:0a1b2c3d-0000-4000-8000-000000000000"], ["0a1b2c3d-0000-4000-8000-000000000000"]),
])
def test_primitive_formats(type_code: str, good: list[Any], bad: list[Any]) -> None:
    check = CHECKS[type_code]
    assert [check(v) for v in good] == [None] * len(good)
    assert all(check(v) is not None for v in bad)


def test_structure_errors(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "name": {"family": "X"}, "birthDate": ["2000-01-01"], "active": "yes",
               "telecom": [{}], "address": [{"line": "1 Road"}]}
    found = errors(validator.validate(patient))
    assert ("EXPECTED_ARRAY", "Patient.name") in found
    assert ("UNEXPECTED_ARRAY", "Patient.birthDate") in found
    assert ("INVALID_FORMAT", "Patient.active") in found
    assert ("EMPTY_ELEMENT", "Patient.telecom[0]") in found
    assert ("EXPECTED_ARRAY", "Patient.address[0].line") in found


def test_primitive_extensions_and_choice_types(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "_birthDate": {"extension": [{"url": "https://example.org/x",
                                                                       "valueString": "y"}]},
               "deceasedBoolean": False, "deceasedDateTime": "2020", "multipleBirthBoolean": "no"}
    found = errors(validator.validate(patient))
    assert ("INVALID_FORMAT", "Patient.multipleBirthBoolean") in found
    assert ("TOO_MANY", "Patient.deceasedDateTime") in found  # one value of a choice
    assert not [f for f in found if "birthDate" in str(f[1])]
    del patient["deceasedBoolean"]
    assert ("TOO_MANY", "Patient.deceasedDateTime") not in errors(validator.validate(patient))


def test_extension_needs_value_or_extensions_not_both(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "extension": [{"url": "https://example.org/x"}]}
    assert errors(validator.validate(patient)) == [("INVARIANT_FAILED", "Patient.extension[0]")]


def test_unknown_resource_types(validator: Validator) -> None:
    assert errors(validator.validate({"resourceType": "Prescriber"})) == [("UNKNOWN_RESOURCE_TYPE",
                                                                        "Prescriber.resourceType")]
    assert [(i.severity, i.code) for i in validator.validate({"resourceType": "Condition"})] == [
        ("information", "UNSUPPORTED_RESOURCE_TYPE")]
    assert errors(validator.validate(["not", "a", "resource"])) == [("NOT_A_RESOURCE", "$this")]


def test_contained_references(validator: Validator) -> None:
    dispense = {"resourceType": "MedicationDispense", "status": "completed",
                "contained": [{"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
                               "subject": {"display": "x"}, "medicationCodeableConcept": {"text": "x"}}],
                "medicationCodeableConcept": {"text": "x"}, "authorizingPrescription": [{"reference": "#m1"}],
                "subject": {"reference": "#m2"}}
    assert errors(validator.validate(dispense)) == [("UNRESOLVED_REFERENCE", "MedicationDispense.subject.reference")]
    dispense["contained"][0]["resourceType"] = "Patient"
    for key in ("status", "intent", "subject", "medicationCodeableConcept"):
        del dispense["contained"][0][key]
    found = errors(validator.validate(dispense))
    assert ("REFERENCE_WRONG_TYPE", "MedicationDispense.authorizingPrescription[0].reference") in found


def test_relative_references_resolve_by_type_and_id(validator: Validator, order: dict[str, Any]) -> None:
    patient = order["entry"][4]
    patient["fullUrl"] = "https://gw.example/fhir/Patient/" + patient["resource"]["id"]
    for index in (1, 2, 3):
        order["entry"][index]["resource"]["subject"]["reference"] = "Patient/" + patient["resource"]["id"]
    order["entry"][0]["resource"]["focus"][0]["reference"] = patient["fullUrl"]
    assert errors(validator.validate(order)) == []
    order["entry"][0]["resource"]["focus"][0]["reference"] = "https://gw.example/fhir/Patient/other"
    assert errors(validator.validate(order)) == [("MESSAGE_FOCUS_NOT_FOUND",
                                                  "Bundle.entry[0].resource.focus[0].reference")]


def test_dangling_reference_in_a_signature_provenance_is_a_warning(validator: Validator, order: dict[str, Any]) -> None:
    order["entry"].append({"fullUrl": "urn:uuid:5a1e1f2d-0000-4000-8000-000000000001", "resource": {
        "resourceType": "Provenance", "id": "5a1e1f2d-0000-4000-8000-000000000001", "recorded": "2026-01-01T00:00:00Z",
        "target": [{"reference": "urn:uuid:5a1e1f2d-0000-4000-8000-000000000099"}],
        "agent": [{"who": {"reference": order["entry"][6]["fullUrl"]}}]}})
    issues = validator.validate(order)
    assert [(i.severity, i.code) for i in issues] == [("warning", "UNRESOLVED_REFERENCE")]


def test_nested_bundles_resolve_their_own_references(validator: Validator, order: dict[str, Any]) -> None:
    searchset = {"resourceType": "Bundle", "type": "searchset", "entry": [{"fullUrl": "urn:uuid:" + order["id"],
                                                                           "resource": order}]}
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "passedPrescriptions", "resource": searchset}]}
    assert validator.validate(parameters) == []
    order["entry"][1]["resource"]["subject"]["reference"] = "urn:uuid:0000"
    assert (
        "UNRESOLVED_REFERENCE", "Parameters.parameter[0].resource.entry[0].resource.entry[1].resource.subject.reference"
    ) in errors(validator.validate(parameters))


def test_display_of_our_codes_is_checked(validator: Validator, order: dict[str, Any]) -> None:
    coding = order["entry"][1]["resource"]["extension"][1]["valueCoding"]
    coding["display"] = "Delivery"
    issues = validator.validate(order)
    assert [(i.severity, i.code, i.expected) for i in issues] == [
        ("warning", "DISPLAY_MISMATCH", "Delivery with nursing support")]


def test_profile_and_exists_discriminators(tmp_path: Any) -> None:
    """A package with one more profile: Bundle entries sliced by the profile their resource conforms to, and
    Patient identifiers sliced by whether they have an assigner."""
    import json as _json

    from fhir_profiles import PACKAGE_DIR, resource_paths
    from gateway.validator.snapshot import SnapshotBuilder

    sd_url = "https://example.org/StructureDefinition/"
    bundle_sd = {
        "resourceType": "StructureDefinition", "id": "ByProfile", "url": sd_url + "ByProfile", "kind": "resource",
        "type": "Bundle", "abstract": False, "status": "draft", "derivation": "constraint",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Bundle",
        "differential": {"element": [
            {"id": "Bundle.entry", "path": "Bundle.entry",
             "slicing": {"discriminator": [{"type": "profile", "path": "resource"}], "rules": "closed"}},
            {"id": "Bundle.entry:homecarePatient", "path": "Bundle.entry", "sliceName": "homecarePatient", "min": 1},
            {"id": "Bundle.entry:homecarePatient.resource", "path": "Bundle.entry.resource",
             "type": [{"code": "Patient", "profile": [
                 "https://fhir.homecaregateway.uk/StructureDefinition/Homecare-Patient"]}]},
        ]},
    }
    patient_sd = {
        "resourceType": "StructureDefinition", "id": "Assigned", "url": sd_url + "Assigned", "kind": "resource",
        "type": "Patient", "abstract": False, "status": "draft", "derivation": "constraint",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
        "differential": {"element": [
            {"id": "Patient.identifier", "path": "Patient.identifier",
             "slicing": {"discriminator": [{"type": "exists", "path": "assigner"}], "rules": "open"}},
            {"id": "Patient.identifier:local", "path": "Patient.identifier", "sliceName": "local", "min": 1},
            {"id": "Patient.identifier:local.assigner", "path": "Patient.identifier.assigner", "min": 1},
        ]},
    }
    for path in resource_paths():
        target = tmp_path / path.relative_to(PACKAGE_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    for sd in (bundle_sd, patient_sd):
        (tmp_path / f"{sd['id']}.json").write_text(_json.dumps(sd), encoding="utf-8")
    package = Package.load(tmp_path)
    builder = SnapshotBuilder(package)
    for sd in (bundle_sd, patient_sd):
        sd["snapshot"] = {"element": builder.snapshot(str(sd["url"]))}
        (tmp_path / f"{sd['id']}.json").write_text(_json.dumps(sd), encoding="utf-8")
    local = Validator.from_package(tmp_path)
    good = {"resourceType": "Patient", "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
                                                        "value": "9434765919"}],
            "name": [{"family": "X"}], "gender": "female", "birthDate": "1970-01-01", "address": [{"city": "Leeds"}]}
    bare = {"resourceType": "Patient", "gender": "female"}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": good}, {"resource": bare}]}
    assert errors(local.validate(bundle, sd_url + "ByProfile")) == [("NO_MATCHING_SLICE", "Bundle.entry[1]")]
    bundle["entry"] = [{"resource": bare}]
    assert ("SLICE_MISSING", "Bundle.entry") in errors(local.validate(bundle, sd_url + "ByProfile"))
    assigned = {"resourceType": "Patient", "identifier": [{"value": "1"}]}
    assert errors(local.validate(assigned, sd_url + "Assigned")) == [("SLICE_MISSING", "Patient.identifier")]
    assigned["identifier"].append({"value": "2", "assigner": {"display": "Trust"}})
    assert errors(local.validate(assigned, sd_url + "Assigned")) == []
