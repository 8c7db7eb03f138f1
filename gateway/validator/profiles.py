"""Canonical URLs of the gateway's profiles, and which profile a resource is checked against by default."""

from __future__ import annotations

from typing import Any, Final

from gateway.fhir import urls

_SD: Final = urls.HOMECARE_BASE + "/StructureDefinition/"
MESSAGE_BUNDLE: Final = _SD + "MessageBundle"
PRESCRIPTION_ORDER: Final = _SD + "PrescriptionOrder"
PRESCRIPTION_ORDER_UPDATE: Final = _SD + "PrescriptionOrderUpdate"
DISPENSE_NOTIFICATION: Final = _SD + "DispenseNotification"
HOMECARE_PRESCRIPTION_ORDER: Final = _SD + "HomecarePrescriptionOrder"
# What the gateway sends when it cancels (gateway.fhir.cancellation), and what homecare providers send it.
HOMECARE_PRESCRIPTION_ORDER_UPDATE: Final = _SD + "HomecarePrescriptionOrderUpdate"
HOMECARE_DISPENSE_NOTIFICATION: Final = _SD + "HomecareDispenseNotification"
HOMECARE_ACKNOWLEDGEMENT: Final = _SD + "HomecareAcknowledgement"
EPS_MEDICATION_REQUEST: Final = _SD + "EPS-MedicationRequest"
HOMECARE_MEDICATION_REQUEST: Final = _SD + "Homecare-MedicationRequest"
HOMECARE_MEDICATION_REQUEST_CANCELLATION: Final = _SD + "Homecare-MedicationRequest-Cancellation"
EPS_MEDICATION_DISPENSE: Final = _SD + "EPS-MedicationDispense"
HOMECARE_MEDICATION_DISPENSE: Final = _SD + "Homecare-MedicationDispense"
HOMECARE_DELIVERY_TASK: Final = _SD + "Homecare-DeliveryTask"
HOMECARE_PATIENT: Final = _SD + "Homecare-Patient"
CAPABILITY_STATEMENT: Final = urls.HOMECARE_BASE + "/CapabilityStatement/homecare-gateway"

# The base message profile of each EPS message event; other events are checked as plain FHIR messages.
MESSAGE_PROFILES: Final[dict[str, str]] = {
    "prescription-order": PRESCRIPTION_ORDER,
    "prescription-order-update": PRESCRIPTION_ORDER_UPDATE,
    "dispense-notification": DISPENSE_NOTIFICATION,
}


def message_event(bundle: dict[str, Any]) -> str | None:
    entries = bundle.get("entry")
    if type(entries) is not list or not entries or type(entries[0]) is not dict:
        return None
    header = entries[0].get("resource")
    if type(header) is not dict or header.get("resourceType") != "MessageHeader":
        return None
    coding = header.get("eventCoding")
    code = coding.get("code") if type(coding) is dict else None
    return code if type(code) is str else None


def default_profile(resource: dict[str, Any]) -> str | None:
    """The profile for a resource that names none in meta.profile: by message event, or the delivery Task's."""
    resource_type = resource.get("resourceType")
    if resource_type == "Bundle" and resource.get("type") == "message":
        event = message_event(resource)
        return MESSAGE_PROFILES.get(event or "", MESSAGE_BUNDLE)
    if resource_type == "Task":
        status = resource.get("businessStatus")
        codings = status.get("coding") if type(status) is dict else None
        if type(codings) is list and any(
            type(c) is dict and c.get("system") == urls.HOMECARE_DELIVERY_STATUS for c in codings
        ):
            return HOMECARE_DELIVERY_TASK
    return None
