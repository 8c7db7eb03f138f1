"""The FHIR R4 core invariants of the base definitions: each fires on a minimal violating resource, at the right
expression, and fhirpathpy agrees with the fast compiler on that value; none fires on our bundles (the EPS examples
are covered by test_eps_examples, which allows no unexpected error)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.validator import Validator
from gateway.validator.core_invariants import BY_TYPE, DOMAIN_RESOURCE, NARRATIVE, NATIVE
from gateway.validator.invariants import compile_invariant
from gateway.validator.package import Package

UCUM = "http://unitsofmeasure.org"
MG = {"system": UCUM, "code": "mg"}


def _ext(value_key: str, value: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "extension": [{"url": "https://example.org/x", value_key: value}]}


def _repeat(repeat: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": {"display": "x"},
            "medicationCodeableConcept": {"text": "x"}, "dosageInstruction": [{"timing": {"repeat": repeat}}]}


def _dispense_request(**values: Any) -> dict[str, Any]:
    request = _repeat({})
    del request["dosageInstruction"]
    request["dispenseRequest"] = values
    return request


def _bundle(kind: str, *entries: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries), **extra}


PATIENT = {"resourceType": "Patient"}
DOCUMENT_ENTRY = {"fullUrl": "urn:uuid:0a1b2c3d-0000-4000-8000-000000000000", "resource": PATIENT}
TEXT = {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Jane</div>"}

# key → (a resource violating it, the issue code, its expression)
CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "dom-2": ({"resourceType": "Patient", "managingOrganization": {"reference": "#o"}, "contained": [
        {"resourceType": "Organization", "id": "o", "name": "x", "contained": [{"resourceType": "Patient", "id": "p"}],
         "partOf": {"reference": "#p"}}]}, "INVARIANT_FAILED", "Patient"),
    "dom-3": ({"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o", "name": "x"}]},
              "INVARIANT_FAILED", "Patient.contained[0]"),
    "dom-4": ({"resourceType": "Patient", "managingOrganization": {"reference": "#o"}, "contained": [
        {"resourceType": "Organization", "id": "o", "name": "x", "meta": {"versionId": "2"}}]},
        "INVARIANT_FAILED", "Patient"),
    "dom-5": ({"resourceType": "Patient", "managingOrganization": {"reference": "#o"}, "contained": [
        {"resourceType": "Organization", "id": "o", "name": "x", "meta": {"security": [{"code": "R"}]}}]},
        "INVARIANT_FAILED", "Patient"),
    "dom-6": (PATIENT, "INVARIANT_FAILED", "Patient"),
    "bdl-1": (_bundle("collection", total=1), "INVARIANT_FAILED", "Bundle"),
    "bdl-2": (_bundle("collection", {"resource": PATIENT, "search": {"mode": "match"}}), "INVARIANT_FAILED",
              "Bundle"),
    "bdl-3": (_bundle("transaction", {"resource": PATIENT}), "INVARIANT_FAILED", "Bundle"),
    "bdl-4": (_bundle("batch-response", {"resource": PATIENT}), "INVARIANT_FAILED", "Bundle"),
    "bdl-5": (_bundle("collection", {"fullUrl": "urn:uuid:0a1b2c3d-0000-4000-8000-000000000000"}),
              "INVARIANT_FAILED", "Bundle.entry[0]"),
    "bdl-7": (_bundle("collection", DOCUMENT_ENTRY, DOCUMENT_ENTRY), "DUPLICATE_FULL_URL", "Bundle.entry[1].fullUrl"),
    "bdl-8": (_bundle("collection", {"fullUrl": "https://x.example/Patient/1/_history/2", "resource": PATIENT}),
              "INVARIANT_FAILED", "Bundle.entry[0]"),
    "bdl-9": (_bundle("document", DOCUMENT_ENTRY, timestamp="2026-01-01T00:00:00Z"), "INVARIANT_FAILED", "Bundle"),
    "bdl-10": (_bundle("document", DOCUMENT_ENTRY, identifier={"system": "urn:ietf:rfc:3986", "value": "urn:x"}),
               "INVARIANT_FAILED", "Bundle"),
    "bdl-11": (_bundle("document", DOCUMENT_ENTRY, identifier={"system": "urn:ietf:rfc:3986", "value": "urn:x"},
                       timestamp="2026-01-01T00:00:00Z"), "INVARIANT_FAILED", "Bundle"),
    "bdl-12": (_bundle("message", DOCUMENT_ENTRY), "MESSAGE_HEADER_NOT_FIRST", "Bundle.entry[0]"),
    "lst-1": ({"resourceType": "List", "status": "current", "mode": "working", "emptyReason": {"text": "none"},
               "entry": [{"item": {"display": "x"}}]}, "INVARIANT_FAILED", "List"),
    "lst-2": ({"resourceType": "List", "status": "current", "mode": "working",
               "entry": [{"item": {"display": "x"}, "deleted": True}]}, "INVARIANT_FAILED", "List"),
    "lst-3": ({"resourceType": "List", "status": "current", "mode": "snapshot",
               "entry": [{"item": {"display": "x"}, "date": "2026-01-01"}]}, "INVARIANT_FAILED", "List"),
    "mdd-1": ({"resourceType": "MedicationDispense", "status": "completed", "medicationCodeableConcept": {"text": "x"},
               "whenPrepared": "2026-01-02T10:00:00Z", "whenHandedOver": "2026-01-01T10:00:00Z"},
              "INVARIANT_FAILED", "MedicationDispense"),
    "org-1": ({"resourceType": "Organization"}, "INVARIANT_FAILED", "Organization"),
    "org-2": ({"resourceType": "Organization", "name": "x", "address": [{"use": "home", "city": "Leeds"}]},
              "INVARIANT_FAILED", "Organization.address[0]"),
    "org-3": ({"resourceType": "Organization", "name": "x", "telecom": [{"system": "phone", "value": "1",
                                                                        "use": "home"}]},
              "INVARIANT_FAILED", "Organization.telecom[0]"),
    "inv-1": ({"resourceType": "Parameters", "parameter": [{"name": "a", "valueString": "x", "part": [{"name": "b"}]}]},
              "INVARIANT_FAILED", "Parameters.parameter[0].part[0]"),
    "pat-1": ({"resourceType": "Patient", "contact": [{"gender": "male"}]}, "INVARIANT_FAILED", "Patient.contact[0]"),
    "age-1": (_ext("valueAge", {"value": -1, "system": UCUM, "code": "a"}), "INVARIANT_FAILED",
              "Patient.extension[0].valueAge"),
    "att-1": ({"resourceType": "Patient", "photo": [{"data": "AAAA"}]}, "INVARIANT_FAILED", "Patient.photo[0]"),
    "cpt-2": ({"resourceType": "Patient", "telecom": [{"value": "01234"}]}, "INVARIANT_FAILED", "Patient.telecom[0]"),
    "cnt-3": (_ext("valueCount", {"value": 1.5, "system": UCUM, "code": "1"}), "INVARIANT_FAILED",
              "Patient.extension[0].valueCount"),
    "drq-1": (_ext("valueDataRequirement", {"type": "Patient", "codeFilter": [{"path": "a", "searchParam": "b"}]}),
              "INVARIANT_FAILED", "Patient.extension[0].valueDataRequirement.codeFilter[0]"),
    "drq-2": (_ext("valueDataRequirement", {"type": "Patient", "dateFilter": [{"valueDateTime": "2026"}]}),
              "INVARIANT_FAILED", "Patient.extension[0].valueDataRequirement.dateFilter[0]"),
    "dis-1": (_ext("valueDistance", {"value": 3}), "INVARIANT_FAILED", "Patient.extension[0].valueDistance"),
    "drt-1": (_dispense_request(expectedSupplyDuration={"value": 28, "system": "https://example.org", "code": "d"}),
              "INVARIANT_FAILED", "MedicationRequest.dispenseRequest.expectedSupplyDuration"),
    "exp-1": (_ext("valueExpression", {"language": "text/fhirpath"}), "INVARIANT_FAILED",
              "Patient.extension[0].valueExpression"),
    "txt-1": ({"resourceType": "Patient", "text": {"status": "generated", "div": "<div><script>x</script>y</div>"}},
              "INVARIANT_FAILED", "Patient.text.div"),
    "txt-2": ({"resourceType": "Patient", "text": {"status": "generated", "div": "<div> </div>"}},
              "INVARIANT_FAILED", "Patient.text.div"),
    "per-1": (_dispense_request(validityPeriod={"start": "2026-02-01", "end": "2026-01-01"}), "INVARIANT_FAILED",
              "MedicationRequest.dispenseRequest.validityPeriod"),
    "qty-3": (_dispense_request(quantity={"value": 1, "code": "mg"}), "INVARIANT_FAILED",
              "MedicationRequest.dispenseRequest.quantity"),
    "sqty-1": (_dispense_request(quantity={"value": 1, "comparator": "<", **MG}), "INVARIANT_FAILED",
               "MedicationRequest.dispenseRequest.quantity"),
    "rng-2": (_ext("valueRange", {"low": {"value": 5, **MG}, "high": {"value": 3, **MG}}), "INVARIANT_FAILED",
              "Patient.extension[0].valueRange"),
    "rat-1": (_ext("valueRatio", {"numerator": {"value": 1}}), "INVARIANT_FAILED", "Patient.extension[0].valueRatio"),
    "ref-1": ({"resourceType": "Patient", "managingOrganization": {"reference": "#o"}}, "UNRESOLVED_REFERENCE",
              "Patient.managingOrganization.reference"),
    "tim-1": (_repeat({"duration": 1}), "INVARIANT_FAILED", "MedicationRequest.dosageInstruction[0].timing.repeat"),
    "tim-2": (_repeat({"period": 1}), "INVARIANT_FAILED", "MedicationRequest.dosageInstruction[0].timing.repeat"),
    "tim-4": (_repeat({"duration": -1, "durationUnit": "h"}), "INVARIANT_FAILED",
              "MedicationRequest.dosageInstruction[0].timing.repeat"),
    "tim-5": (_repeat({"period": -1, "periodUnit": "d"}), "INVARIANT_FAILED",
              "MedicationRequest.dosageInstruction[0].timing.repeat"),
    "tim-6": (_repeat({"periodMax": 2, "periodUnit": "d"}), "INVARIANT_FAILED",
              "MedicationRequest.dosageInstruction[0].timing.repeat"),
    "tim-7": (_repeat({"durationMax": 2, "durationUnit": "h"}), "INVARIANT_FAILED",
              "MedicationRequest.dosageInstruction[0].timing.repeat"),
    "tim-8": (_repeat({"countMax": 2}), "INVARIANT_FAILED", "MedicationRequest.dosageInstruction[0].timing.repeat"),
    "tim-9": (_repeat({"offset": 30, "when": ["C"]}), "INVARIANT_FAILED",
              "MedicationRequest.dosageInstruction[0].timing.repeat"),
    "tim-10": (_repeat({"timeOfDay": ["08:00:00"], "when": ["MORN"]}), "INVARIANT_FAILED",
               "MedicationRequest.dosageInstruction[0].timing.repeat"),
    "trd-1": (_ext("valueTriggerDefinition", {"type": "periodic", "timingDate": "2026-01-01",
                                              "data": [{"type": "Patient"}]}),
              "INVARIANT_FAILED", "Patient.extension[0].valueTriggerDefinition"),
    "trd-2": (_ext("valueTriggerDefinition", {"type": "named-event", "name": "x", "condition": {
        "language": "text/fhirpath", "expression": "true"}}), "INVARIANT_FAILED",
        "Patient.extension[0].valueTriggerDefinition"),
    "trd-3": (_ext("valueTriggerDefinition", {"type": "named-event"}), "INVARIANT_FAILED",
              "Patient.extension[0].valueTriggerDefinition"),
}
# Task's inv-1 shares its key with Parameters'.
TASK_INV_1 = ({"resourceType": "Task", "status": "draft", "intent": "order", "authoredOn": "2026-01-02",
               "lastModified": "2026-01-01T10:00:00Z"}, "INVARIANT_FAILED", "Task")
BEST_PRACTICE = {"dom-6"} | NARRATIVE
# fhirpathpy compares no Quantities (it raises): the fast compiler compares quantities of one unit.
FHIRPATHPY_CANNOT = {"rng-2"}


def test_every_core_invariant_has_a_case() -> None:
    keys = {i.key for i in DOMAIN_RESOURCE} | {i.key for group in BY_TYPE.values() for i in group}
    assert keys == set(CASES)
    assert set(NATIVE) - {"ele-1", "ext-1"} <= set(CASES)


@pytest.fixture(scope="module")
def best_practice() -> Validator:
    return Validator.from_package(best_practice=True)


def _found(validator: Validator, resource: dict[str, Any], code: str, path: str, key: str) -> list[Any]:
    return [i for i in validator.validate(resource) if i.code == code and i.location.path == path
            and (code != "INVARIANT_FAILED" or i.message.startswith(key + ":"))]


@pytest.mark.parametrize("key", sorted(CASES))
def test_invariant_fires_on_a_minimal_violation(validator: Validator, best_practice: Validator, key: str) -> None:
    resource, code, path = CASES[key]
    if key in BEST_PRACTICE:
        assert not _found(validator, resource, code, path, key), "best practice and narrative are off by default"
        validator = best_practice
    (issue,) = _found(validator, resource, code, path, key)
    assert issue.severity == ("warning" if key == "dom-6" else "error")


def test_task_inv_1(validator: Validator) -> None:
    resource, code, path = TASK_INV_1
    assert _found(validator, resource, code, path, "inv-1")
    resource["lastModified"] = "2026-01-02T10:00:00+01:00"
    assert not _found(validator, resource, code, path, "inv-1")


def _value_at(resource: dict[str, Any], path: str) -> Any:
    value: Any = resource
    for step in path.split(".")[1:]:
        name, _, index = step.partition("[")
        value = value[name]
        if index:
            value = value[int(index[:-1])]
    return value


def _expression(profile: str, element_id: str, key: str) -> tuple[str, str]:
    sd = Package.load().resources[profile]
    by_id = {e["id"]: e for e in sd["snapshot"]["element"]}
    element = by_id[element_id]
    source = by_id[element["contentReference"][1:]] if "contentReference" in element else element
    for constraint in source.get("constraint", []):
        if constraint["key"] == key:
            return constraint["expression"], source["path"]
    raise AssertionError(f"{key} not on {element_id} of {profile}")


@pytest.mark.parametrize("key", sorted(k for k, case in CASES.items() if case[1] == "INVARIANT_FAILED"
                                       and k not in NATIVE))
def test_fhirpathpy_agrees_on_the_violation(best_practice: Validator, key: str) -> None:
    resource, code, path = CASES[key]
    (issue,) = _found(best_practice, resource, code, path, key)
    expression, element_path = _expression(str(issue.profile), str(issue.element), key)
    value = _value_at(resource, path)
    fast = compile_invariant(expression, path=element_path)
    slow = compile_invariant(expression, fast=False, path=element_path)
    assert fast.fast and fast.evaluate(value, resource, resource) is False
    assert slow.evaluate(value, resource, resource) is (None if key in FHIRPATHPY_CANNOT else False)


def test_the_fixed_versions_pass(validator: Validator) -> None:
    fixed = [
        _repeat({"period": 1, "periodUnit": "d", "duration": 1, "durationUnit": "h", "when": ["MORN"], "offset": 30}),
        _dispense_request(validityPeriod={"start": "2026-01-01", "end": "2026-01-01T10:00:00Z"},
                          quantity={"value": 1, **MG},
                          expectedSupplyDuration={"value": 28, "system": UCUM, "code": "d"}),
        {"resourceType": "Organization", "identifier": [{"value": "X"}], "address": [{"use": "work"}]},
        {"resourceType": "Parameters", "parameter": [{"name": "a", "part": [{"name": "b", "valueString": "x"}]}]},
        _bundle("collection", DOCUMENT_ENTRY, {"fullUrl": DOCUMENT_ENTRY["fullUrl"], "resource": {
            "resourceType": "Patient", "meta": {"versionId": "2"}}}),  # bdl-7: same fullUrl, another version
        _bundle("history", {**DOCUMENT_ENTRY, "request": {"method": "GET", "url": "Patient"},
                            "response": {"status": "200"}}, {**DOCUMENT_ENTRY, "request": {
                                "method": "GET", "url": "Patient"}, "response": {"status": "200"}}),
        {"resourceType": "MedicationDispense", "status": "completed", "medicationCodeableConcept": {"text": "x"},
         "whenPrepared": "2026-01-01T10:00:00+01:00", "whenHandedOver": "2026-01-01T09:30:00Z"},  # 09:00Z ≤ 09:30Z
        {"resourceType": "Patient", "text": TEXT, "managingOrganization": {"reference": "#o"},
         "contained": [{"resourceType": "Organization", "id": "o", "name": "x"}]},
    ]
    for resource in fixed:
        found = [(i.code, i.message) for i in validator.validate(resource) if i.code.startswith("INVARIANT")
                 or i.code == "DUPLICATE_FULL_URL" or re.match(r"[a-z]+-\d+:", i.message)]
        assert found == [], (resource, found)


def test_no_core_invariant_fires_on_our_messages(validator: Validator, order: dict[str, Any]) -> None:
    assert not [i for i in validator.validate(order) if i.code.startswith("INVARIANT")]
