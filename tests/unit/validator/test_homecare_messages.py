"""Our own messages against our homecare profiles: golden prescription-orders, provider dispense notifications,
delivery status Tasks (closed input slicing, invariants), and how the default profile is chosen."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conformance.parties.provider_messages import acknowledgement, delivery_task, dispense_notification, order_facts
from gateway.fhir.serialise import dumps_bundle, loads_bundle
from gateway.validator import Validator
from gateway.validator.profiles import (
    DISPENSE_NOTIFICATION,
    HOMECARE_DELIVERY_TASK,
    HOMECARE_PRESCRIPTION_ORDER,
    MESSAGE_BUNDLE,
    PRESCRIPTION_ORDER,
    default_profile,
)
from tests.unit.validator.conftest import errors

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "fhir"
CASES = sorted(p.name for p in GOLDEN.glob("order-*") if (p / "expected.json").exists())


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 2


@pytest.mark.parametrize("case", CASES)
def test_golden_orders_are_clean_against_the_homecare_profile(validator: Validator, case: str) -> None:
    bundle = loads_bundle((GOLDEN / case / "expected.json").read_bytes())
    assert validator.validate(bundle, HOMECARE_PRESCRIPTION_ORDER) == []
    assert validator.validate(bundle) == []


def test_default_profiles() -> None:
    header = {"resourceType": "MessageHeader", "eventCoding": {"code": "prescription-order"}}
    assert default_profile({"resourceType": "Bundle", "type": "message", "entry": [{"resource": header}]}) == (
        PRESCRIPTION_ORDER)
    assert default_profile({"resourceType": "Bundle", "type": "message"}) == MESSAGE_BUNDLE
    assert default_profile({"resourceType": "Patient"}) is None


def test_meta_profile_is_followed(validator: Validator, order: dict[str, Any]) -> None:
    order["meta"] = {"profile": [HOMECARE_PRESCRIPTION_ORDER]}
    order["entry"][1]["resource"]["intent"] = "original-order"  # allowed by EPS, not by the homecare profile
    assert ("FIXED_VALUE_MISMATCH", "Bundle.entry[1].resource.intent") in errors(validator.validate(order))


def test_unknown_meta_profile_falls_back_with_a_warning(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "meta": {"profile": ["https://example.org/StructureDefinition/X"]}}
    assert [(i.severity, i.code) for i in validator.validate(patient, "https://example.org/StructureDefinition/X")] == [
        ("warning", "UNKNOWN_PROFILE")]


@pytest.fixture
def facts(order: dict[str, Any]) -> dict[str, Any]:
    return order_facts(order)


def test_provider_dispense_notification_is_clean(validator: Validator, facts: dict[str, Any]) -> None:
    message = dispense_notification("FTX40", facts, 1, "https://provider.example", datetime(2026, 12, 1, tzinfo=UTC))
    assert errors(validator.validate(message, DISPENSE_NOTIFICATION)) == []
    message["entry"][1]["resource"]["type"]["coding"][0]["code"] = "0009"
    assert ("CODE_NOT_IN_VALUESET", "Bundle.entry[1].resource.type.coding[0]") in errors(validator.validate(message))


def test_acknowledgement_is_a_clean_message(validator: Validator) -> None:
    assert errors(validator.validate(acknowledgement("FTX40", "abc", "https://provider.example"))) == []


def _task(facts: dict[str, Any], state: str, **kwargs: Any) -> dict[str, Any]:
    return delivery_task("FTX40", facts, 1, state, **kwargs)


@pytest.mark.parametrize("state", ["scheduled", "dispatched", "delivered", "failed", "returned"])
def test_delivery_tasks_are_clean(validator: Validator, facts: dict[str, Any], state: str) -> None:
    reason = "patient-not-available" if state == "failed" else None
    task = _task(facts, state, scheduled=date(2026, 12, 1), window="08:00-12:00",
                 at=datetime(2026, 12, 1, 10, tzinfo=UTC), reason=reason)
    assert validator.validate(task) == []  # the delivery Task profile is chosen from its businessStatus


def test_delivery_task_rules(validator: Validator, facts: dict[str, Any]) -> None:
    task = _task(facts, "failed")  # no failure-reason input
    task["input"].append({"type": {"coding": [{"system": "https://example.org", "code": "colour"}]},
                          "valueString": "blue"})
    task["businessStatus"]["coding"][0]["code"] = "lost"
    found = errors(validator.validate(task, HOMECARE_DELIVERY_TASK))
    assert ("NO_MATCHING_SLICE", "Task.input[1]") in found
    assert ("CODE_NOT_IN_VALUESET", "Task.businessStatus.coding[0]") in found
    del task["input"][0]
    del task["input"][0]
    found = errors(validator.validate(task, HOMECARE_DELIVERY_TASK))
    assert ("MISSING_ELEMENT", "Task.input") in found


def test_delivery_task_invariants(validator: Validator, facts: dict[str, Any]) -> None:
    failed = errors(validator.validate(_task(facts, "failed"), HOMECARE_DELIVERY_TASK))
    assert failed == [("INVARIANT_FAILED", "Task")]
    delivered = [i for i in validator.validate(_task(facts, "delivered"), HOMECARE_DELIVERY_TASK)]
    assert [(i.code, i.message.split(":")[0]) for i in delivered] == [("INVARIANT_FAILED", "hgw-task-2")]


def test_no_matching_slice_explains_every_slice(validator: Validator, facts: dict[str, Any]) -> None:
    task = _task(facts, "scheduled")
    task["input"][0]["type"]["coding"][0]["code"] = "delivery-no"
    (issue,) = [i for i in validator.validate(task) if i.code == "NO_MATCHING_SLICE"]
    assert "deliveryNumber: type = " in issue.message and "failureReason" in issue.message


def test_decimal_and_float_numbers_are_both_accepted(validator: Validator, order: dict[str, Any]) -> None:
    as_float = json.loads(dumps_bundle(order))  # plain floats and ints, as json.loads gives them
    assert errors(validator.validate(as_float)) == errors(validator.validate(order)) == []
    order["entry"][1]["resource"]["dispenseRequest"]["quantity"]["value"] = Decimal("NaN")
    assert ("INVALID_FORMAT", "Bundle.entry[1].resource.dispenseRequest.quantity.value") in errors(
        validator.validate(order))
