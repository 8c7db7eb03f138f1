"""FHIR Tasks a homecare provider sends: delivery status, the EPS withdraw and return Tasks, and requests to the
trust (a clinical query, a prescription due) with the trust's answer as read back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from conformance.parties.provider_codes import (
    DELIVERY_STATUS,
    FAILED_REASON,
    HOMECARE_TASK_CODE,
    NHS_NUMBER,
    ODS,
    RFC4122,
    SHORT_FORM,
    TASK_CODE,
    TASK_INPUT,
    new_id,
)


def delivery_task(
    provider_ods: str,
    facts: dict[str, Any],
    number: int,
    state: str,
    *,
    scheduled: date | None = None,
    window: str | None = None,
    at: datetime | None = None,
    reason: str | None = None,
    recipient: str | None = None,
) -> dict[str, Any]:
    """A PSU-style status Task for delivery `number`, businessStatus from our homecare delivery statuses;
    `reason` is a homecare-failed-delivery-reason code."""
    inputs: list[dict[str, Any]] = [_input("delivery-number", valueInteger=number)]
    if scheduled:
        inputs.append(_input("scheduled-date", valueDate=scheduled.isoformat()))
    if window:
        inputs.append(_input("delivery-window", valueString=window))
    if recipient:
        inputs.append(_input("recipient", valueString=recipient))
    if reason:
        inputs.append(
            _input("failure-reason", valueCodeableConcept={"coding": [{"system": FAILED_REASON, "code": reason}]})
        )
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": new_id(),
        "status": {"delivered": "completed", "failed": "failed"}.get(state, "in-progress"),
        "intent": "order",
        "businessStatus": {"coding": [{"system": DELIVERY_STATUS, "code": state}]},
        "focus": {"identifier": {"system": SHORT_FORM, "value": facts["short_form_id"]}},
        "for": {"identifier": {"system": NHS_NUMBER, "value": facts["nhs_number"]}},
        "owner": {"identifier": {"system": ODS, "value": provider_ods}},
        "input": inputs,
    }
    if at is not None:
        task["executionPeriod"] = {"end": at.isoformat()}
    return task


def _input(code: str, **value: Any) -> dict[str, Any]:
    return {"type": {"coding": [{"system": TASK_INPUT, "code": code}]}, **value}


def withdraw_task(
    provider_ods: str,
    facts: dict[str, Any],
    notification_id: str,
    reason: tuple[str, str] = ("MU", "Medication Update"),
) -> dict[str, Any]:
    """The EPS withdraw Task: takes back the dispense notification `notification_id` (its Bundle or header id)."""
    task_id = new_id()
    return {
        "resourceType": "Task",
        "id": task_id,
        "identifier": [{"system": RFC4122, "value": task_id}],
        "groupIdentifier": {"system": SHORT_FORM, "value": facts["short_form_id"]},
        "status": "in-progress",
        "statusReason": {
            "coding": [
                {
                    "system": "https://fhir.nhs.uk/CodeSystem/EPS-task-dispense-withdraw-reason",
                    "code": reason[0],
                    "display": reason[1],
                }
            ]
        },
        "intent": "order",
        "code": {
            "coding": [{"system": TASK_CODE, "code": "abort", "display": "Mark the focal resource as no longer active"}]
        },
        "focus": {"type": "Bundle", "identifier": {"system": RFC4122, "value": notification_id}},
        "for": {"identifier": {"system": NHS_NUMBER, "value": facts["nhs_number"]}},
        "authoredOn": datetime.now().astimezone().isoformat(),
        "owner": {"identifier": {"system": ODS, "value": provider_ods}},
        "reasonCode": {
            "coding": [{"system": "http://snomed.info/sct", "code": "373784005", "display": "Dispensing medication"}]
        },
    }


def return_task(
    provider_ods: str, facts: dict[str, Any], reason: tuple[str, str] = ("0003", "Patient requested release")
) -> dict[str, Any]:
    """The EPS return Task: the provider hands back an order it acknowledged but will not dispense."""
    task_id = new_id()
    return {
        "resourceType": "Task",
        "id": task_id,
        "identifier": [{"system": RFC4122, "value": task_id}],
        "status": "rejected",
        "statusReason": {
            "coding": [
                {
                    "system": "https://fhir.nhs.uk/CodeSystem/EPS-task-dispense-return-status-reason",
                    "code": reason[0],
                    "display": reason[1],
                }
            ]
        },
        "intent": "order",
        "code": {"coding": [{"system": TASK_CODE, "code": "fulfill", "display": "Fulfill the focal request"}]},
        "groupIdentifier": {"system": SHORT_FORM, "value": facts["short_form_id"]},
        "focus": {"identifier": {"system": RFC4122, "value": facts["message_id"]}},
        "for": {"identifier": {"system": NHS_NUMBER, "value": facts["nhs_number"]}},
        "owner": {"identifier": {"system": ODS, "value": provider_ods}},
    }


def provider_request(
    provider_ods: str, facts: dict[str, Any], kind: str, *, question: str | None = None, due: date | None = None
) -> dict[str, Any]:
    """A request to the trust: kind "clinical-query" (asking `question`) or "prescription-due" (needed by `due`)."""
    task_id = new_id()
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "identifier": [{"system": RFC4122, "value": task_id}],
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": HOMECARE_TASK_CODE, "code": kind}]},
        "focus": {"identifier": {"system": SHORT_FORM, "value": facts["short_form_id"]}},
        "for": {"identifier": {"system": NHS_NUMBER, "value": facts["nhs_number"]}},
        "requester": {"identifier": {"system": ODS, "value": provider_ods}},
    }
    if question is not None:
        task["description"] = question
    if due is not None:
        task["restriction"] = {"period": {"end": due.isoformat()}}
    return task


def trust_answer(task: dict[str, Any], text: str, status: str = "completed") -> dict[str, Any]:
    """The trust's answer to a request Task (as read from GET /FHIR/R4/Task/{id}): its status and an output text."""
    return {
        **task,
        "status": status,
        "output": [{"type": {"text": "answer"}, "valueString": text}],
    }
