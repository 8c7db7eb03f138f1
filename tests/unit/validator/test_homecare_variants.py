"""The homecare variants of the update (cancel), dispense-notification and acknowledgement messages, and the PSU
business status on delivery Tasks: what the gateway and the simulator generate is clean, and a mutation corpus over
each is reported at the right expression."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from conformance.parties.provider_messages import (
    acknowledgement,
    delivery_task,
    dispense,
    dispense_notification,
    order_facts,
    rejection,
)
from fhir_profiles import PACKAGE_DIR
from gateway.bench.validator import standard_prescription
from gateway.fhir.cancellation import CANCEL_REASONS, build_cancellations
from gateway.fhir.prescription_order import OrderIds
from gateway.simulate.directory import sample_prescribing
from gateway.validator import Validator
from gateway.validator.profiles import (
    HOMECARE_ACKNOWLEDGEMENT,
    HOMECARE_DELIVERY_TASK,
    HOMECARE_DISPENSE_NOTIFICATION,
    HOMECARE_PRESCRIPTION_ORDER_UPDATE,
    MESSAGE_BUNDLE,
    default_profile,
)
from tests.unit.validator.conftest import errors

Message = dict[str, Any]
Mutation = Callable[[Message], None]
PSU = "https://fhir.nhs.uk/CodeSystem/task-businessStatus-nppt"
HANDED_OVER = datetime(2026, 12, 1, 10, tzinfo=UTC)


def cancellation(reason: str = "Patient deceased") -> Message:
    p = standard_prescription()
    return build_cancellations(
        p,
        OrderIds.new(p),
        reason,
        provider_ods="FTX40",
        source_endpoint="https://gw.example",
        prescribing=sample_prescribing(),
    )[0]


@pytest.fixture
def facts(order: Message) -> dict[str, Any]:
    return order_facts(order)


def notification(facts: dict[str, Any], delivery: int = 1) -> Message:
    return dispense_notification("FTX40", facts, delivery, "https://provider.example", HANDED_OVER)


def _at(message: Message, *path: Any) -> Any:
    node: Any = message
    for step in path:
        node = node[step]
    return node


def _set(*path: Any, value: Any) -> Mutation:
    return lambda m: _at(m, *path[:-1]).__setitem__(path[-1], value)


def _delete(*path: Any) -> Mutation:
    return lambda m: _at(m, *path[:-1]).__delitem__(path[-1])


def _drop_entry(resource_type: str) -> Mutation:
    def drop(m: Message) -> None:
        m["entry"] = [e for e in m["entry"] if e["resource"]["resourceType"] != resource_type]
    return drop


R1 = ("entry", 1, "resource")
MR1 = "Bundle.entry[1].resource"
HEADER = "Bundle.entry[0].resource"


# --- the cancellation the gateway sends ----------------------------------------------------------------------------
@pytest.mark.parametrize("reason", [*CANCEL_REASONS.values(), "changed my mind"])
def test_cancellations_are_clean(validator: Validator, reason: str) -> None:
    message = cancellation(reason)
    assert validator.validate(message, HOMECARE_PRESCRIPTION_ORDER_UPDATE) == []
    assert validator.validate(message) == []  # and against the EPS prescription-order-update, its default


CANCEL_MUTATIONS: dict[str, tuple[Mutation, tuple[str, str]]] = {
    "item not cancelled": (_set(*R1, "status", value="active"), ("FIXED_VALUE_MISMATCH", f"{MR1}.status")),
    "no reason": (_delete(*R1, "statusReason"), ("MISSING_ELEMENT", f"{MR1}.statusReason")),
    "reason outside the EPS list": (_set(*R1, "statusReason", "coding", 0, "code", value="0099"),
                                    ("CODE_NOT_IN_VALUESET", f"{MR1}.statusReason.coding[0]")),
    "reason from another system": (_set(*R1, "statusReason", "coding", 0, "system", value="https://example.org"),
                                   ("CODE_NOT_IN_VALUESET", f"{MR1}.statusReason.coding[0]")),
    "two reasons": (lambda m: _at(m, *R1, "statusReason", "coding").append(
        {"system": "https://fhir.nhs.uk/CodeSystem/medicationrequest-status-reason", "code": "0001"}),
        ("TOO_MANY", f"{MR1}.statusReason.coding")),
    "event of an order": (_set("entry", 0, "resource", "eventCoding", "code", value="prescription-order"),
                          ("FIXED_VALUE_MISMATCH", f"{HEADER}.eventCoding.code")),
    "no prescriber": (_drop_entry("Practitioner"), ("SLICE_MISSING", "Bundle.entry")),
    "no provider as performer": (_delete(*R1, "dispenseRequest", "performer"),
                                 ("MISSING_ELEMENT", f"{MR1}.dispenseRequest.performer")),
    "not a homecare prescription type": (_set(*R1, "extension", 0, "valueCoding", "code", value="1001"),
                                         ("CODE_NOT_IN_VALUESET", f"{MR1}.extension[0].valueCoding")),
    "patient without NHS number": (_set("entry", 2, "resource", "identifier", value=[{"value": "K1"}]),
                                   ("SLICE_MISSING", "Bundle.entry[2].resource.identifier")),
}


@pytest.mark.parametrize("name", sorted(CANCEL_MUTATIONS))
def test_cancellation_mutations(validator: Validator, name: str) -> None:
    mutate, expected = CANCEL_MUTATIONS[name]
    message = cancellation()
    mutate(message)
    assert expected in errors(validator.validate(message, HOMECARE_PRESCRIPTION_ORDER_UPDATE))


def test_the_cancellation_profile_keeps_step_with_the_order_item_profile() -> None:
    folder = PACKAGE_DIR / "StructureDefinition"
    order = json.loads((folder / "Homecare-MedicationRequest.json").read_text(encoding="utf-8"))
    cancel = json.loads((folder / "Homecare-MedicationRequest-Cancellation.json").read_text(encoding="utf-8"))
    ours = [e for e in order["differential"]["element"] if e["id"] != "MedicationRequest.status"]
    theirs = [e for e in cancel["differential"]["element"] if not e["id"].startswith("MedicationRequest.statusReason")]
    assert ours == theirs


# --- what providers send -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("delivery", [1, 2, 6])
def test_dispense_notifications_are_clean(validator: Validator, facts: dict[str, Any], delivery: int) -> None:
    message = notification(facts, delivery)
    assert validator.validate(message, HOMECARE_DISPENSE_NOTIFICATION) == []
    assert validator.validate(message) == []


D1 = "Bundle.entry[1].resource"
DISPENSE_MUTATIONS: dict[str, tuple[Mutation, tuple[str, str]]] = {
    "sender not by ODS code": (_set("entry", 0, "resource", "sender", "identifier", "system",
                                    value="https://example.org/id"),
                               ("FIXED_VALUE_MISMATCH", f"{HEADER}.sender.identifier.system")),
    "sender unnamed": (_set("entry", 0, "resource", "sender", value={"display": "a provider"}),
                       ("MISSING_ELEMENT", f"{HEADER}.sender.identifier")),
    "supplied but not handed over": (_delete(*R1, "whenHandedOver"), ("INVARIANT_FAILED", D1)),
    "not dispensed, no reason": (_set(*R1, "type", "coding", 0, "code", value="0002"), ("INVARIANT_FAILED", D1)),
    "bad NHS number": (_set(*R1, "subject", "identifier", "value", value="9434765918"),
                       ("INVALID_NHS_NUMBER", f"{D1}.subject.identifier.value")),
    "patient not by NHS number": (_set(*R1, "subject", value={"display": "Jane Smith"}),
                                  ("MISSING_ELEMENT", f"{D1}.subject.identifier")),
    "item contained twice": (lambda m: _at(m, *R1, "contained").append({**_at(m, *R1, "contained", 0), "id": "m2"}),
                             ("SLICE_TOO_MANY", f"{D1}.contained")),
    "item neither contained nor in the Bundle": (
        _delete(*R1, "contained"), ("UNRESOLVED_REFERENCE", f"{D1}.authorizingPrescription[0].reference")),
    "contained item without prescription": (_delete(*R1, "contained", 0, "groupIdentifier"),
                                            ("MISSING_ELEMENT", f"{D1}.contained[0].groupIdentifier")),
    "two authorising items": (lambda m: _at(m, *R1, "authorizingPrescription").append({"reference": "#m1"}),
                              ("TOO_MANY", f"{D1}.authorizingPrescription")),
    "no provider organisation": (_drop_entry("Organization"), ("SLICE_MISSING", "Bundle.entry")),
    "performer is not an organisation": (lambda m: _at(m, *R1, "performer", 0, "actor").__setitem__(
        "reference", m["entry"][1]["fullUrl"]), ("REFERENCE_WRONG_TYPE", f"{D1}.performer[0].actor.reference")),
    "unknown line-item status": (_set(*R1, "type", "coding", 0, "code", value="0009"),
                                 ("CODE_NOT_IN_VALUESET", f"{D1}.type.coding[0]")),
    "no dm+d code": (_set(*R1, "medicationCodeableConcept", value={"text": "methotrexate"}),
                     ("MISSING_ELEMENT", f"{D1}.medicationCodeableConcept.coding")),
}


def test_other_dispensing_outcomes_are_clean(validator: Validator, facts: dict[str, Any]) -> None:
    """Not dispensed and owing (with their reasons), several products for a line, a replacement, a cancelled item."""
    messages = [
        dispense("FTX40", facts, {0: "0002", 1: "0004"}, reasons={0: ("0004", "Illegal NHS prescription"),
                                                                  1: ("0007", "Out of stock")}),
        dispense("FTX40", facts, {0: "0001"}, handed_over=HANDED_OVER, replaces="b4dce3c0-42e7-4431-be10-52d1ebc7d3f3",
                 products={0: [("15517911000001104", "Methotrexate 10mg", 1.0), ("322236009", "Paracetamol", 1.0)]}),
        dispense("FTX40", facts, {2: "0005"}),
    ]
    for message in messages:
        assert errors(validator.validate(message, HOMECARE_DISPENSE_NOTIFICATION)) == []


@pytest.mark.parametrize("name", sorted(DISPENSE_MUTATIONS))
def test_dispense_notification_mutations(validator: Validator, facts: dict[str, Any], name: str) -> None:
    mutate, expected = DISPENSE_MUTATIONS[name]
    message = notification(facts)
    before = copy.deepcopy(message)
    mutate(message)
    assert message != before
    assert expected in errors(validator.validate(message, HOMECARE_DISPENSE_NOTIFICATION))


@pytest.mark.parametrize("code", ["ok", "transient-error", "fatal-error"])
def test_acknowledgements_are_clean(validator: Validator, code: str) -> None:
    message = acknowledgement("FTX40", "b4dce3c0-42e7-4431-be10-52d1ebc7d3f3", "https://provider.example", code)
    assert validator.validate(message, HOMECARE_ACKNOWLEDGEMENT) == []
    assert default_profile(message) == MESSAGE_BUNDLE  # the gateway names the homecare profile explicitly


ACK_MUTATIONS: dict[str, tuple[Mutation, tuple[str, str]]] = {
    "not a response": (_delete("entry", 0, "resource", "response"), ("MISSING_ELEMENT", f"{HEADER}.response")),
    "unknown response code": (_set("entry", 0, "resource", "response", "code", value="maybe"),
                              ("CODE_NOT_IN_VALUESET", f"{HEADER}.response.code")),
    "answers nothing": (_delete("entry", 0, "resource", "response", "identifier"),
                        ("MISSING_ELEMENT", f"{HEADER}.response.identifier")),
    "another event": (_set("entry", 0, "resource", "eventCoding", "code", value="dispense-notification"),
                      ("FIXED_VALUE_MISMATCH", f"{HEADER}.eventCoding.code")),
    "sender not by ODS code": (_set("entry", 0, "resource", "sender", value={"display": "FTX40"}),
                               ("MISSING_ELEMENT", f"{HEADER}.sender.identifier")),
    "something else in the message": (lambda m: m["entry"].append({
        "fullUrl": "urn:uuid:0a1b2c3d-0000-4000-8000-000000000001",
        "resource": {"resourceType": "Patient", "id": "0a1b2c3d-0000-4000-8000-000000000001"}}),
        ("NO_MATCHING_SLICE", "Bundle.entry[1]")),
}


@pytest.mark.parametrize("name", sorted(ACK_MUTATIONS))
def test_acknowledgement_mutations(validator: Validator, name: str) -> None:
    mutate, expected = ACK_MUTATIONS[name]
    message = acknowledgement("FTX40", "b4dce3c0-42e7-4431-be10-52d1ebc7d3f3", "https://provider.example")
    mutate(message)
    assert expected in errors(validator.validate(message, HOMECARE_ACKNOWLEDGEMENT))


def test_a_rejection_is_an_acknowledgement(validator: Validator) -> None:
    message = rejection("FTX40", "b4dce3c0-42e7-4431-be10-52d1ebc7d3f3", "https://provider.example",
                        [("0001", "Patient not registered with the provider")])
    assert validator.validate(message, HOMECARE_ACKNOWLEDGEMENT) == []


def test_an_acknowledgement_may_explain_an_error(validator: Validator) -> None:
    message = acknowledgement("FTX40", "b4dce3c0-42e7-4431-be10-52d1ebc7d3f3", "https://provider.example",
                              "fatal-error")
    outcome_id = "0a1b2c3d-0000-4000-8000-000000000002"
    message["entry"].append({"fullUrl": f"urn:uuid:{outcome_id}", "resource": {
        "resourceType": "OperationOutcome", "id": outcome_id,
        "issue": [{"severity": "error", "code": "not-found", "diagnostics": "unknown prescription"}]}})
    message["entry"][0]["resource"]["response"]["details"] = {"reference": f"urn:uuid:{outcome_id}"}
    assert validator.validate(message, HOMECARE_ACKNOWLEDGEMENT) == []


# --- the PSU business status alongside ours on delivery Tasks ------------------------------------------------------
def _task(facts: dict[str, Any], *psu: str) -> Message:
    task = delivery_task("FTX40", facts, 1, "dispatched")
    task["businessStatus"]["coding"] += [{"system": PSU, "code": code} for code in psu]
    return task


def test_a_psu_status_may_ride_along(validator: Validator, facts: dict[str, Any]) -> None:
    assert validator.validate(_task(facts, "Dispatched")) == []


def test_psu_status_rules(validator: Validator, facts: dict[str, Any]) -> None:
    task = _task(facts, "Dispatched", "Ready to Dispatch")
    assert ("SLICE_TOO_MANY", "Task.businessStatus.coding") in errors(validator.validate(task, HOMECARE_DELIVERY_TASK))
    task = _task(facts, "Dispatched")
    del task["businessStatus"]["coding"][1]["code"]
    assert ("MISSING_ELEMENT", "Task.businessStatus.coding[1].code") in errors(
        validator.validate(task, HOMECARE_DELIVERY_TASK))
    task = _task(facts, "Dispatched")
    del task["businessStatus"]["coding"][0]  # the gateway needs our delivery status
    assert ("SLICE_MISSING", "Task.businessStatus.coding") in errors(validator.validate(task, HOMECARE_DELIVERY_TASK))


def test_psu_codes_outside_the_bundled_fragment_are_not_checked(validator: Validator, facts: dict[str, Any]) -> None:
    issues = validator.validate(_task(facts, "Lost in the post"))
    assert [(i.severity, i.code, i.location.path) for i in issues] == [
        ("information", "CODE_NOT_CHECKED", "Task.businessStatus.coding[1]")]
