"""The identifier and code systems the simulated provider writes in its messages and Tasks, and fresh resource ids."""

from __future__ import annotations

import uuid

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
MESSAGE_EVENT = "https://fhir.nhs.uk/CodeSystem/message-event"
DELIVERY_STATUS = "https://fhir.homecaregateway.uk/CodeSystem/homecare-delivery-status"
TASK_INPUT = "https://fhir.homecaregateway.uk/CodeSystem/homecare-task-input"
SHORT_FORM = "https://fhir.nhs.uk/Id/prescription-order-number"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
DISPENSE_TYPE = "https://fhir.nhs.uk/CodeSystem/medicationdispense-type"
BUSINESS_STATUS_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-TaskBusinessStatus"
BUSINESS_STATUS = "https://fhir.nhs.uk/CodeSystem/EPS-task-business-status"
STATUS_REASON = "https://fhir.nhs.uk/CodeSystem/medicationdispense-status-reason"
FAILED_REASON = "https://fhir.homecaregateway.uk/CodeSystem/homecare-failed-delivery-reason"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
HOMECARE_TASK_CODE = "https://fhir.homecaregateway.uk/CodeSystem/homecare-task-code"
RFC4122 = "https://tools.ietf.org/html/rfc4122"


def new_id() -> str:
    """A new resource id (a UUID4)."""
    return str(uuid.uuid4())
