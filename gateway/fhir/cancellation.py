"""The EPS `prescription-order-update` (cancel) message for a prescription the gateway already sent."""

from __future__ import annotations

import uuid
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


def reason_coding(reason: str) -> dict[str, str]:
    """The EPS code whose display or code the trust's reason text is, else 0004 Clinical grounds."""
    text = reason.strip().casefold()
    for code, display in CANCEL_REASONS.items():
        if text in (code, display.casefold()):
            return {"system": STATUS_REASON_SYSTEM, "code": code, "display": display}
    return {"system": STATUS_REASON_SYSTEM, "code": "0004", "display": CANCEL_REASONS["0004"]}


def build_cancellation(
    original: HomecarePrescription,
    ids: OrderIds,
    reason: str,
    *,
    provider_ods: str,
    source_endpoint: str,
    prescribing: Prescribing,
) -> dict[str, Any]:
    """The order as sent, re-issued as a `prescription-order-update` with every line cancelled for `reason`.

    The ids are the original order's (short-form, long-form and line-item ids); the message id is new.
    """
    bundle = build_prescription_order(
        original, ids, provider_ods=provider_ods, source_endpoint=source_endpoint, prescribing=prescribing
    )
    message_id = str(uuid.uuid4())
    bundle["id"] = message_id
    bundle["identifier"] = {"system": urls.BUNDLE_IDENTIFIER, "value": str(uuid.uuid4())}
    header = bundle["entry"][0]
    header["fullUrl"] = f"urn:uuid:{message_id}"
    header["resource"]["id"] = message_id
    header["resource"]["eventCoding"] = {
        "system": urls.MESSAGE_EVENT,
        "code": "prescription-order-update",
        "display": "Prescription Order Update",
    }
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "MedicationRequest":
            resource["status"] = "cancelled"
            resource["statusReason"] = {"coding": [reason_coding(reason)], "text": reason}
    return bundle
