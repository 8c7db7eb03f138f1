"""FHIR messages a homecare provider sends: acknowledgements, dispense notifications and delivery Tasks."""

from __future__ import annotations

import copy
import uuid
from datetime import date, datetime
from typing import Any

from gateway.fhir.prescription_order import deliveries_from_repeats

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
MESSAGE_EVENT = "https://fhir.nhs.uk/CodeSystem/message-event"
DELIVERY_STATUS = "https://fhir.homecaregateway.uk/CodeSystem/homecare-delivery-status"
TASK_INPUT = "https://fhir.homecaregateway.uk/CodeSystem/homecare-task-input"
SHORT_FORM = "https://fhir.nhs.uk/Id/prescription-order-number"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
DISPENSE_TYPE = "https://fhir.nhs.uk/CodeSystem/medicationdispense-type"
BUSINESS_STATUS_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-TaskBusinessStatus"
BUSINESS_STATUS = "https://fhir.nhs.uk/CodeSystem/EPS-task-business-status"


def _uuid() -> str:
    return str(uuid.uuid4())


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == kind]


def order_facts(order: dict[str, Any]) -> dict[str, Any]:
    """What a provider needs from a released order: ids, the patient's NHS number, each line and its deliveries."""
    header = resources(order, "MessageHeader")[0]
    patient = resources(order, "Patient")[0]
    requests = resources(order, "MedicationRequest")
    return {
        "message_id": header["id"],
        "event": header["eventCoding"]["code"],
        "short_form_id": requests[0]["groupIdentifier"]["value"],
        "nhs_number": next(i["value"] for i in patient["identifier"] if i["system"] == NHS_NUMBER),
        "requests": requests,
        "deliveries": max(line_deliveries(r) for r in requests),
    }


def line_deliveries(request: dict[str, Any]) -> int:
    return deliveries_from_repeats(request["dispenseRequest"].get("numberOfRepeatsAllowed", 0))


def _header(provider_ods: str, event: str, display: str, source: str, response_to: str | None) -> dict[str, Any]:
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": _uuid(),
        "eventCoding": {"system": MESSAGE_EVENT, "code": event, "display": display},
        "sender": {"identifier": {"system": ODS, "value": provider_ods}},
        "source": {"endpoint": source},
    }
    if response_to:
        header["response"] = {"identifier": response_to, "code": "ok"}
    return header


def _message(header: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": header["id"],
        "identifier": {"system": "https://tools.ietf.org/html/rfc4122", "value": _uuid()},
        "type": "message",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in [header, *others]],
    }


def acknowledgement(provider_ods: str, order_message_id: str, source: str, code: str = "ok") -> dict[str, Any]:
    """A response message: MessageHeader.response.identifier is the order's MessageHeader.id."""
    header = _header(
        provider_ods, "prescription-order-response", "Prescription Order Response", source, order_message_id
    )
    header["response"]["code"] = code
    return _message(header, [])


def dispense_notification(
    provider_ods: str, facts: dict[str, Any], delivery: int, source: str, handed_over: datetime
) -> dict[str, Any]:
    """EPS dispense-notification for one homecare delivery: partial until each line's last delivery."""
    header = _header(provider_ods, "dispense-notification", "Dispense Notification", source, facts["message_id"])
    org_id = _uuid()
    dispenses = []
    last = delivery >= facts["deliveries"]
    for request in facts["requests"]:
        deliveries = line_deliveries(request)
        if delivery > deliveries:
            continue
        contained = copy.deepcopy(request)
        contained["id"] = "m1"
        contained["subject"] = {"identifier": {"system": NHS_NUMBER, "value": facts["nhs_number"]}}
        contained["requester"] = {"display": "prescriber"}
        full = delivery == deliveries
        dispenses.append(
            {
                "resourceType": "MedicationDispense",
                "id": _uuid(),
                "contained": [contained],
                "extension": [
                    {
                        "url": BUSINESS_STATUS_URL,
                        "valueCoding": {
                            "system": BUSINESS_STATUS,
                            "code": "0006" if last else "0003",
                            "display": "Dispensed" if last else "With Dispenser - Active",
                        },
                    }
                ],
                "status": "completed",
                "medicationCodeableConcept": request["medicationCodeableConcept"],
                "subject": {"type": "Patient", "identifier": {"system": NHS_NUMBER, "value": facts["nhs_number"]}},
                "performer": [{"actor": {"reference": f"urn:uuid:{org_id}"}}],
                "authorizingPrescription": [{"reference": "#m1"}],
                "type": {
                    "coding": [
                        {
                            "system": DISPENSE_TYPE,
                            "code": "0001" if full else "0003",
                            "display": "Item fully dispensed" if full else "Item dispensed - partial",
                        }
                    ]
                },
                "quantity": request["dispenseRequest"]["quantity"],
                "whenHandedOver": handed_over.isoformat(),
            }
        )
    header["focus"] = [{"reference": f"urn:uuid:{d['id']}"} for d in dispenses]
    organization = {
        "resourceType": "Organization",
        "id": org_id,
        "identifier": [{"system": ODS, "value": provider_ods}],
        "name": f"Homecare provider {provider_ods}",
    }
    return _message(header, [*dispenses, organization])


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
) -> dict[str, Any]:
    """A PSU-style status Task for delivery `number`, businessStatus from our homecare delivery statuses."""
    inputs: list[dict[str, Any]] = [_input("delivery-number", valueInteger=number)]
    if scheduled:
        inputs.append(_input("scheduled-date", valueDate=scheduled.isoformat()))
    if window:
        inputs.append(_input("delivery-window", valueString=window))
    if reason:
        inputs.append(_input("failure-reason", valueString=reason))
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": _uuid(),
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


def release_request(
    provider_ods: str, max_count: int | None = None, short_form_id: str | None = None
) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {
            "name": "owner",
            "resource": {"resourceType": "Organization", "identifier": [{"system": ODS, "value": provider_ods}]},
        }
    ]
    if short_form_id:
        params.append({"name": "group-identifier", "valueIdentifier": {"system": SHORT_FORM, "value": short_form_id}})
    if max_count:
        params.append({"name": "max-count", "valueInteger": max_count})
    params.append({"name": "status", "valueCode": "accepted"})
    return {"resourceType": "Parameters", "parameter": params}


def _input(code: str, **value: Any) -> dict[str, Any]:
    return {"type": {"coding": [{"system": TASK_INPUT, "code": code}]}, **value}
