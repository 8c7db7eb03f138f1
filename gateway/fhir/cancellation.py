"""The EPS `prescription-order-update` (cancel) messages for a prescription the gateway already sent.

EPS cancels one line item per message (its coordinator takes exactly one MedicationRequest per cancellation,
rule `EPS_CANCELLATION`): a prescription of N items is cancelled with N messages, one per line.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from typing import Any

from gateway.domain.directory import Prescribing
from gateway.domain.model import HomecarePrescription
from gateway.fhir import urls
from gateway.fhir.prescription_order import OrderIds, build_prescription_order

STATUS_REASON_SYSTEM = "https://fhir.nhs.uk/CodeSystem/medicationrequest-status-reason"
# EPS cancellation reasons (medicationrequest-status-reason); free-text reasons that name none are "Clinical grounds".
CANCEL_REASONS = {
    "0001": "Prescribing Error",
    "0002": "Clinical contra-indication",
    "0003": "Change to medication treatment regime",
    "0004": "Clinical grounds",
    "0005": "At the Patient's request",
    "0006": "At the Pharmacist's request",
    "0007": "Notification of Death",
    "0008": "Patient deceased",
}
# The namespace of the cancellation message ids (`cancellation_message_id`).
_CANCELLATION_NAMESPACE = uuid.UUID("5b0e7c1e-2f43-4d7a-9a51-0c6d2e8f4b17")


def reason_coding(reason: str) -> dict[str, str]:
    """The EPS code whose display or code the trust's reason text is, else 0004 Clinical grounds."""
    text = reason.strip().casefold()
    for code, display in CANCEL_REASONS.items():
        if text in (code, display.casefold()):
            return {"system": STATUS_REASON_SYSTEM, "code": code, "display": display}
    return {"system": STATUS_REASON_SYSTEM, "code": "0004", "display": CANCEL_REASONS["0004"]}


def cancellation_message_id(item_id: str) -> str:
    """The MessageHeader id of the cancellation of line item `item_id`: derived from it (UUID v5), so that the
    provider's acknowledgement of that message names the line it cancels without a lookup of the message."""
    return str(uuid.uuid5(_CANCELLATION_NAMESPACE, item_id))


def cancelled_item(message_id: str, item_ids: Iterable[str]) -> str | None:
    """The line item of `item_ids` whose cancellation has MessageHeader id `message_id`; None when none has."""
    for item_id in item_ids:
        if cancellation_message_id(item_id) == message_id:
            return item_id
    return None


def build_cancellations(
    original: HomecarePrescription,
    ids: OrderIds,
    reason: str,
    *,
    provider_ods: str,
    source_endpoint: str,
    prescribing: Prescribing,
) -> list[dict[str, Any]]:
    """The order as sent, re-issued as `prescription-order-update` messages cancelling it for `reason`: one per
    line item, in line order, each carrying that line's MedicationRequest only (EPS cancels one line per message).

    The ids are the original order's (short-form, long-form and line-item ids); each message's id is
    `cancellation_message_id` of its line, its Bundle.identifier new.
    """
    order = build_prescription_order(
        original, ids, provider_ods=provider_ods, source_endpoint=source_endpoint, prescribing=prescribing
    )
    return [_cancellation(order, ids.item_ids[item.line_no], reason) for item in original.items]


def _cancellation(order: dict[str, Any], item_id: str, reason: str) -> dict[str, Any]:
    """`order` with only the MedicationRequest `item_id`, cancelled for `reason`, under a new message id."""
    bundle = copy.deepcopy(order)
    message_id = cancellation_message_id(item_id)
    bundle["id"] = message_id
    bundle["identifier"] = {"system": urls.BUNDLE_IDENTIFIER, "value": str(uuid.uuid4())}
    bundle["entry"] = [
        entry
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] != "MedicationRequest" or entry["resource"]["id"] == item_id
    ]
    header = bundle["entry"][0]
    header["fullUrl"] = f"urn:uuid:{message_id}"
    header["resource"]["id"] = message_id
    header["resource"]["eventCoding"] = {
        "system": urls.MESSAGE_EVENT,
        "code": "prescription-order-update",
        "display": "Prescription Order Update",
    }
    kept = {entry["fullUrl"] for entry in bundle["entry"]}
    header["resource"]["focus"] = [f for f in header["resource"]["focus"] if f["reference"] in kept]
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "MedicationRequest":
            resource["status"] = "cancelled"
            resource["statusReason"] = {"coding": [reason_coding(reason)], "text": reason}
    return bundle
