"""FHIR messages a homecare provider sends: acknowledgements, rejections, dispense notifications and `$release`
requests, with what it reads from a released order; its Tasks are in provider_tasks.py."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from conformance.parties.provider_codes import (
    BUSINESS_STATUS,
    BUSINESS_STATUS_URL,
    DELIVERY_STATUS,
    DISPENSE_TYPE,
    MESSAGE_EVENT,
    NHS_NUMBER,
    ODS,
    SHORT_FORM,
    STATUS_REASON,
    new_id,
)
from conformance.parties.provider_tasks import (
    delivery_task,
    provider_request,
    return_task,
    trust_answer,
    withdraw_task,
)

# The face the simulators, benchmarks and tests use (`provider_messages as msg`): the messages here, the Tasks
# from provider_task_resources.py.
__all__ = [
    "DELIVERY_STATUS",
    "acknowledgement",
    "delivery_task",
    "dispense",
    "dispense_notification",
    "fatal_response",
    "line_deliveries",
    "order_facts",
    "passed_orders",
    "process_message_batch",
    "provider_request",
    "rejection",
    "release_request",
    "resources",
    "return_task",
    "trust_answer",
    "withdraw_task",
]

_PRESCRIPTION_STATUS = {
    "0002": "With Dispenser",
    "0003": "With Dispenser - Active",
    "0006": "Dispensed",
    "0007": "Not Dispensed",
}
_ITEM_STATUS = {
    "0001": "Item fully dispensed",
    "0002": "Item not dispensed",
    "0003": "Item dispensed - partial",
    "0004": "Item not dispensed owing",
    "0005": "Item cancelled",
}


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == kind]


def order_facts(order: dict[str, Any]) -> dict[str, Any]:
    """What a provider needs from a released order: ids, the patient's NHS number, each line and its deliveries.

    A cancellation (`event` prescription-order-update) carries one line, the one it cancels, in `requests`."""
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
    # EPS repeat dispensing: numberOfRepeatsAllowed counts the issues after the first.
    return int(request["dispenseRequest"].get("numberOfRepeatsAllowed", 0)) + 1


def _header(provider_ods: str, event: str, display: str, source: str, response_to: str | None) -> dict[str, Any]:
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": new_id(),
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
        "identifier": {"system": "https://tools.ietf.org/html/rfc4122", "value": new_id()},
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
    outcomes: dict[int, str] = {}
    for index, request in enumerate(facts["requests"]):
        deliveries = line_deliveries(request)
        if delivery <= deliveries:
            outcomes[index] = "0001" if delivery == deliveries else "0003"
    last = delivery >= facts["deliveries"]
    return dispense(
        provider_ods, facts, outcomes, source=source, handed_over=handed_over, declared="0006" if last else "0003"
    )


def dispense(
    provider_ods: str,
    facts: dict[str, Any],
    outcomes: dict[int, str],
    *,
    source: str = "https://provider.example/fhir",
    handed_over: datetime | None = None,
    declared: str | None = None,
    products: dict[int, list[tuple[str, str, float]]] | None = None,
    reasons: dict[int, tuple[str, str]] | None = None,
    replaces: str | None = None,
) -> dict[str, Any]:
    """An EPS dispense-notification: `outcomes` maps a line (index into facts["requests"]) to its
    medicationdispense-type code. `products` gives several products (dm+d code, name, quantity) for a line,
    one MedicationDispense each; `reasons` a line's statusReason (not dispensed, owing); `replaces` the
    notification (its MessageHeader id) this one amends; `declared` the TaskBusinessStatus (default: 0003)."""
    header = _header(provider_ods, "dispense-notification", "Dispense Notification", source, facts["message_id"])
    if replaces:
        header["extension"] = [
            {
                "url": "https://fhir.nhs.uk/StructureDefinition/Extension-replacementOf",
                "valueIdentifier": {"system": "https://tools.ietf.org/html/rfc4122", "value": replaces},
            }
        ]
    org_id = new_id()
    dispenses = []
    for index, code in outcomes.items():
        request = facts["requests"][index]
        medication = request["medicationCodeableConcept"]
        quantity = request["dispenseRequest"]["quantity"]
        supplied: list[tuple[str | None, str | None, Any]] = list((products or {}).get(index) or [])
        supplied = supplied or [(None, None, quantity["value"])]
        for product_code, product_name, amount in supplied:
            dispense = _medication_dispense(request, facts["nhs_number"], code, declared or "0003", org_id)
            if product_code:
                dispense["medicationCodeableConcept"] = {
                    "coding": [
                        {"system": medication["coding"][0]["system"], "code": product_code, "display": product_name}
                    ]
                }
            else:
                dispense["medicationCodeableConcept"] = medication
            dispense["quantity"] = {**quantity, "value": amount if code in ("0001", "0003") else 0}
            if handed_over is not None:
                dispense["whenHandedOver"] = handed_over.isoformat()
            if reasons and index in reasons:
                reason_code, display = reasons[index]
                dispense["statusReasonCodeableConcept"] = {
                    "coding": [{"system": STATUS_REASON, "code": reason_code, "display": display}]
                }
            dispenses.append(dispense)
    header["focus"] = [{"reference": f"urn:uuid:{d['id']}"} for d in dispenses]
    organization = {
        "resourceType": "Organization",
        "id": org_id,
        "identifier": [{"system": ODS, "value": provider_ods}],
        "name": f"Homecare provider {provider_ods}",
    }
    return _message(header, [*dispenses, organization])


def _medication_dispense(
    request: dict[str, Any], nhs_number: str, code: str, declared: str, org_id: str
) -> dict[str, Any]:
    contained = copy.deepcopy(request)
    contained["id"] = "m1"
    contained["subject"] = {"identifier": {"system": NHS_NUMBER, "value": nhs_number}}
    contained["requester"] = {"display": "prescriber"}
    return {
        "resourceType": "MedicationDispense",
        "id": new_id(),
        "contained": [contained],
        "extension": [
            {
                "url": BUSINESS_STATUS_URL,
                "valueCoding": {"system": BUSINESS_STATUS, "code": declared, "display": _PRESCRIPTION_STATUS[declared]},
            }
        ],
        "status": {"0004": "on-hold", "0005": "cancelled", "0002": "declined"}.get(code, "completed"),
        "subject": {"type": "Patient", "identifier": {"system": NHS_NUMBER, "value": nhs_number}},
        "performer": [{"actor": {"reference": f"urn:uuid:{org_id}"}}],
        "authorizingPrescription": [{"reference": "#m1"}],
        "type": {"coding": [{"system": DISPENSE_TYPE, "code": code, "display": _ITEM_STATUS[code]}]},
    }


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


def passed_orders(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """The orders a Task/$release answer (Parameters) hands over: the resources of its passedPrescriptions
    Bundle; [] when it has none."""
    passed = next((p for p in parameters.get("parameter", []) if p.get("name") == "passedPrescriptions"), None)
    entries = (passed or {}).get("resource", {}).get("entry", [])
    return [e["resource"] for e in entries]


def fatal_response(provider_ods: str, order_message_id: str, source: str, outcome: dict[str, Any]) -> dict[str, Any]:
    """A fatal-error response message to `order_message_id`; `outcome` (an OperationOutcome) says why."""
    header = _header(
        provider_ods, "prescription-order-response", "Prescription Order Response", source, order_message_id
    )
    header["response"] = {
        "identifier": order_message_id,
        "code": "fatal-error",
        "details": {"reference": f"urn:uuid:{outcome['id']}"},
    }
    return _message(header, [outcome])


def rejection(provider_ods: str, order_message_id: str, source: str, issues: list[tuple[str, str]]) -> dict[str, Any]:
    """A fatal-error response: the provider cannot fulfil the order, for the coded reasons in an OperationOutcome."""
    outcome = {
        "resourceType": "OperationOutcome",
        "id": new_id(),
        "issue": [
            {
                "severity": "error",
                "code": "business-rule",
                "details": {
                    "coding": [{"system": "https://fhir.nhs.uk/CodeSystem/EPS-IssueCode", "code": c, "display": d}]
                },
            }
            for c, d in issues
        ],
    }
    return fatal_response(provider_ods, order_message_id, source, outcome)


def process_message_batch(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """A FHIR batch Bundle of `POST $process-message` requests, one per message (`POST /FHIR/R4`)."""
    return {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"fullUrl": f"urn:uuid:{m['id']}", "resource": m, "request": {"method": "POST", "url": "$process-message"}}
            for m in messages
        ],
    }
