"""A mutation corpus over the standard prescription-order: each mutation is reported, at the right expression."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from gateway.validator import Validator
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER, PRESCRIPTION_ORDER
from tests.unit.validator.conftest import errors

Bundle = dict[str, Any]
MR = "Bundle.entry[1].resource"  # the first MedicationRequest
MR2 = "Bundle.entry[2].resource"
PATIENT = "Bundle.entry[4].resource"


def _set(path: list[Any], value: Any) -> Callable[[Bundle], None]:
    def mutate(bundle: Bundle) -> None:
        node = bundle
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return mutate


def _delete(path: list[Any]) -> Callable[[Bundle], None]:
    def mutate(bundle: Bundle) -> None:
        node = bundle
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]

    return mutate


def _resource(index: int) -> list[Any]:
    return ["entry", index, "resource"]


def _move_header_last(bundle: Bundle) -> None:
    bundle["entry"].append(bundle["entry"].pop(0))


def _duplicate_full_url(bundle: Bundle) -> None:
    bundle["entry"][2]["fullUrl"] = bundle["entry"][1]["fullUrl"]


def _bad_short_form(bundle: Bundle) -> None:
    value = bundle["entry"][1]["resource"]["groupIdentifier"]["value"]
    wrong = "0" if value[-1] != "0" else "1"
    for index in (1, 2, 3):
        bundle["entry"][index]["resource"]["groupIdentifier"]["value"] = value[:-1] + wrong


def _drop_prescription_type(bundle: Bundle) -> None:
    extensions = bundle["entry"][1]["resource"]["extension"]
    extensions[:] = [e for e in extensions if not e["url"].endswith("Extension-DM-PrescriptionType")]


def _bad_dmd(bundle: Bundle) -> None:
    coding = bundle["entry"][1]["resource"]["medicationCodeableConcept"]["coding"][0]
    coding["code"] = coding["code"][:-1] + str((int(coding["code"][-1]) + 1) % 10)


# name → (mutation, profile, expected (code, expression) among the errors)
MUTATIONS: dict[str, tuple[Callable[[Bundle], None], str, tuple[str, str]]] = {
    "unknown element": (_set([*_resource(4), "nickname"], "Janey"), PRESCRIPTION_ORDER,
                        ("UNKNOWN_ELEMENT", f"{PATIENT}.nickname")),
    "missing required element": (_delete([*_resource(1), "subject"]), PRESCRIPTION_ORDER,
                                 ("MISSING_ELEMENT", f"{MR}.subject")),
    "bad status code": (_set([*_resource(1), "status"], "live"), PRESCRIPTION_ORDER,
                        ("CODE_NOT_IN_VALUESET", f"{MR}.status")),
    "bad intent code": (_set([*_resource(2), "intent"], "plan"), PRESCRIPTION_ORDER,
                        ("CODE_NOT_IN_VALUESET", f"{MR2}.intent")),
    "bad gender code": (_set([*_resource(4), "gender"], "F"), PRESCRIPTION_ORDER,
                        ("CODE_NOT_IN_VALUESET", f"{PATIENT}.gender")),
    "duplicate fullUrl": (_duplicate_full_url, PRESCRIPTION_ORDER, ("DUPLICATE_FULL_URL", "Bundle.entry[2].fullUrl")),
    "MessageHeader not first": (_move_header_last, PRESCRIPTION_ORDER, ("MESSAGE_HEADER_NOT_FIRST", "Bundle.entry[0]")),
    "dangling reference": (_set([*_resource(1), "subject", "reference"], "urn:uuid:" + "0" * 8 + "-0000-4000-8000-"
                                + "0" * 12), PRESCRIPTION_ORDER, ("UNRESOLVED_REFERENCE", f"{MR}.subject.reference")),
    "reference to the wrong type": (_set([*_resource(1), "subject"], {"reference": "PLACEHOLDER"}), PRESCRIPTION_ORDER,
                                    ("REFERENCE_WRONG_TYPE", f"{MR}.subject.reference")),
    "bad NHS number": (_set([*_resource(4), "identifier", 0, "value"], "9434765918"), PRESCRIPTION_ORDER,
                       ("INVALID_NHS_NUMBER", f"{PATIENT}.identifier[0].value")),
    "bad dm+d check digit": (_bad_dmd, PRESCRIPTION_ORDER,
                             ("INVALID_DMD_CHECK_DIGIT", f"{MR}.medicationCodeableConcept.coding[0].code")),
    "bad short-form check character": (_bad_short_form, PRESCRIPTION_ORDER,
                                       ("INVALID_SHORT_FORM_ID", f"{MR}.groupIdentifier.value")),
    "inconsistent groupIdentifier": (_set([*_resource(3), "groupIdentifier", "value"], "A0548B-A99968-451485"),
                                     PRESCRIPTION_ORDER, ("INCONSISTENT_GROUP_IDENTIFIER",
                                                          "Bundle.entry[3].resource.groupIdentifier")),
    "missing dosage text": (_delete([*_resource(1), "dosageInstruction", 0, "text"]), PRESCRIPTION_ORDER,
                            ("MISSING_ELEMENT", f"{MR}.dosageInstruction[0].text")),
    "required slice missing": (_drop_prescription_type, PRESCRIPTION_ORDER, ("SLICE_MISSING", f"{MR}.extension")),
    "bad primitive format": (_set([*_resource(4), "birthDate"], "14/02/1968"), PRESCRIPTION_ORDER,
                             ("INVALID_FORMAT", f"{PATIENT}.birthDate")),
    "homecare: prescription type not 12xx": (
        _set([*_resource(1), "extension", 0, "valueCoding", "code"], "1001"), HOMECARE_PRESCRIPTION_ORDER,
        ("CODE_NOT_IN_VALUESET", f"{MR}.extension[0].valueCoding")),
    "homecare: invariant hgw-mr-1": (
        _set([*_resource(1), "courseOfTherapyType"], {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                      "medicationrequest-course-of-therapy", "code": "acute"}]}),
        HOMECARE_PRESCRIPTION_ORDER, ("INVARIANT_FAILED", MR)),
    "homecare: invariant hgw-mr-2 (repeat dispensing without a validity end)": (
        _delete([*_resource(1), "dispenseRequest", "validityPeriod", "end"]),
        HOMECARE_PRESCRIPTION_ORDER, ("INVARIANT_FAILED", MR)),
    "homecare: invariant hgw-mr-4 (quantity without its dm+d unit code)": (
        _delete([*_resource(1), "dispenseRequest", "quantity", "code"]),
        HOMECARE_PRESCRIPTION_ORDER, ("INVARIANT_FAILED", MR)),
    "homecare: fixed value": (_set([*_resource(1), "intent"], "original-order"), HOMECARE_PRESCRIPTION_ORDER,
                              ("FIXED_VALUE_MISMATCH", f"{MR}.intent")),
    "homecare: performer missing": (_delete([*_resource(1), "dispenseRequest", "performer"]),
                                    HOMECARE_PRESCRIPTION_ORDER,
                                    ("MISSING_ELEMENT", f"{MR}.dispenseRequest.performer")),
}


@pytest.mark.parametrize("profile", [None, PRESCRIPTION_ORDER, HOMECARE_PRESCRIPTION_ORDER])
def test_the_original_reports_nothing(validator: Validator, order: Bundle, profile: str | None) -> None:
    assert validator.validate(order, profile) == []


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_is_reported_at_its_expression(validator: Validator, order: Bundle, name: str) -> None:
    mutate, profile, expected = MUTATIONS[name]
    if name == "reference to the wrong type":
        order["entry"][1]["resource"]["subject"]["reference"] = order["entry"][5]["fullUrl"]  # a Practitioner
    else:
        mutate(order)
    before = copy.deepcopy(order)
    found = errors(validator.validate(order, profile))
    assert expected in found, found
    assert order == before, "validation must not change its input"


def test_issues_name_profile_and_element(validator: Validator, order: Bundle) -> None:
    order["entry"][1]["resource"]["status"] = "live"
    (issue,) = [i for i in validator.validate(order, HOMECARE_PRESCRIPTION_ORDER) if i.code == "CODE_NOT_IN_VALUESET"]
    assert issue.profile == "http://hl7.org/fhir/StructureDefinition/MedicationRequest" or issue.profile.endswith(
        "Homecare-MedicationRequest")
    assert issue.element == "MedicationRequest.status"
    assert issue.as_dict()["expression"] == f"{MR}.status"


def test_slice_missing_explains_what_it_looks_for(validator: Validator, order: Bundle) -> None:
    _drop_prescription_type(order)
    (issue,) = [i for i in validator.validate(order) if i.code == "SLICE_MISSING"]
    assert "prescriptionType" in issue.message
    assert "url = https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionType" in issue.message
    assert issue.element == "MedicationRequest.extension:prescriptionType"
