"""Every system, extension and endpoint URL the gateway's FHIR messages use, and the EPS status code tables.

NHS URLs are spelt exactly as in the EPS FHIR API examples (`shared/eps-examples/`); ours live under
`https://fhir.homecaregateway.uk` and are defined by the StructureDefinitions and CodeSystems in `fhir_profiles/`.
"""

from __future__ import annotations

from typing import Final

# --- identifier systems -------------------------------------------------------------------------------------------
BUNDLE_IDENTIFIER: Final = "https://tools.ietf.org/html/rfc4122"
NHS_NUMBER: Final = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORGANIZATION_CODE: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
PRESCRIPTION_ORDER_NUMBER: Final = "https://fhir.nhs.uk/Id/prescription-order-number"
PRESCRIPTION_ORDER_ITEM_NUMBER: Final = "https://fhir.nhs.uk/Id/prescription-order-item-number"
PRESCRIPTION_ID: Final = "https://fhir.nhs.uk/Id/prescription"
# A trust's own hospital (case-note) number; unique only together with its assigner (the trust's ODS code).
LOCAL_PATIENT_IDENTIFIER: Final = "https://fhir.nhs.uk/Id/local-patient-identifier"
GMC_NUMBER: Final = "https://fhir.hl7.org.uk/Id/gmc-number"
NMC_NUMBER: Final = "https://fhir.hl7.org.uk/Id/nmc-number"
GPHC_NUMBER: Final = "https://fhir.hl7.org.uk/Id/gphc-number"
HCPC_NUMBER: Final = "https://fhir.hl7.org.uk/Id/hcpc-number"
# EPS carries a prescriber code of no named register under this system, unchecked (practitioner.ts).
PROFESSIONAL_CODE: Final = "https://fhir.hl7.org.uk/Id/professional-code"
# A GP's prescribing code; EPS refuses it as the prescriber of a prescription (bundle-validator.ts).
GMP_NUMBER: Final = "https://fhir.hl7.org.uk/Id/gmp-number"
PRESCRIBER_NUMBER_SYSTEMS: Final[dict[str, str]] = {
    "GMC": GMC_NUMBER,
    "NMC": NMC_NUMBER,
    "GPHC": GPHC_NUMBER,
    "HCPC": HCPC_NUMBER,
    "PROFESSIONAL": PROFESSIONAL_CODE,
}

# --- code systems ---------------------------------------------------------------------------------------------------
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
MESSAGE_EVENT: Final = "https://fhir.nhs.uk/CodeSystem/message-event"
PRESCRIPTION_TYPE: Final = "https://fhir.nhs.uk/CodeSystem/prescription-type"
DISPENSING_SITE_PREFERENCE: Final = "https://fhir.nhs.uk/CodeSystem/dispensing-site-preference"
MEDICATIONREQUEST_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
# EPS codes continuous-repeat-dispensing under NHS England's system, acute and continuous under HL7's.
MEDICATIONREQUEST_COURSE_OF_THERAPY: Final = "https://fhir.nhs.uk/CodeSystem/medicationrequest-course-of-therapy"
HL7_COURSE_OF_THERAPY: Final = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"
EPS_TASK_BUSINESS_STATUS: Final = "https://fhir.nhs.uk/CodeSystem/EPS-task-business-status"
MEDICATIONDISPENSE_TYPE: Final = "https://fhir.nhs.uk/CodeSystem/medicationdispense-type"

# --- NHS extensions -------------------------------------------------------------------------------------------------
EXT_PRESCRIPTION_TYPE: Final = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionType"
EXT_PRESCRIPTION_ID: Final = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionId"
EXT_PERFORMER_SITE_TYPE: Final = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-PerformerSiteType"
EXT_RESPONSIBLE_PRACTITIONER: Final = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-ResponsiblePractitioner"

# --- endpoints ------------------------------------------------------------------------------------------------------
SPINE_DIRECTORY_ORGANIZATION: Final = "https://directory.spineservices.nhs.uk/STU3/Organization/"


def organization_endpoint(ods_code: str) -> str:
    """The Spine directory endpoint EPS uses to address an organisation, e.g. in MessageHeader.destination."""
    return SPINE_DIRECTORY_ORGANIZATION + ods_code


# --- ours -------------------------------------------------------------------------------------------------------------
HOMECARE_BASE: Final = "https://fhir.homecaregateway.uk"
_SD: Final = f"{HOMECARE_BASE}/StructureDefinition/"
EXT_HOMECARE_SERVICE_TYPE: Final = _SD + "Extension-Homecare-ServiceType"
EXT_HOMECARE_FIRST_DELIVERY_DATE: Final = _SD + "Extension-Homecare-FirstDeliveryDate"
EXT_HOMECARE_DELIVERY_ADDRESS: Final = _SD + "Extension-Homecare-DeliveryAddress"
EXT_HOMECARE_DELIVERY_INSTRUCTIONS: Final = _SD + "Extension-Homecare-DeliveryInstructions"
HOMECARE_SERVICE_TYPE: Final = f"{HOMECARE_BASE}/CodeSystem/homecare-service-type"
HOMECARE_DELIVERY_STATUS: Final = f"{HOMECARE_BASE}/CodeSystem/homecare-delivery-status"
HOMECARE_TASK_INPUT: Final = f"{HOMECARE_BASE}/CodeSystem/homecare-task-input"
# The trust's own prescription number (RxNumber), unique together with its assigner (the trust's ODS code).
TRUST_PRESCRIPTION_NUMBER: Final = f"{HOMECARE_BASE}/Id/trust-prescription-number"

# --- code tables ----------------------------------------------------------------------------------------------------
# The canonical ServiceType enum value → code and display in our homecare-service-type CodeSystem.
HOMECARE_SERVICE_TYPES: Final[dict[str, tuple[str, str]]] = {
    "DELIVERY": ("delivery", "Delivery only"),
    "DELIVERY_NURSING": ("delivery-nursing", "Delivery with nursing support"),
    "DELIVERY_TRAINING": ("delivery-training", "Delivery with patient training"),
}
HOMECARE_DELIVERY_STATUSES: Final[dict[str, str]] = {
    "scheduled": "Scheduled",
    "dispatched": "Dispatched",
    "delivered": "Delivered",
    "failed": "Failed",
    "returned": "Returned",
}
HOMECARE_TASK_INPUTS: Final[dict[str, str]] = {
    "delivery-number": "Delivery number",
    "scheduled-date": "Scheduled date",
    "delivery-window": "Delivery window",
    "recipient": "Recipient",
    "failure-reason": "Failure reason",
}
# EPS prescription (Task.businessStatus) status.
PRESCRIPTION_STATUSES: Final[dict[str, str]] = {
    "0001": "To be Dispensed",
    "0002": "With Dispenser",
    "0003": "With Dispenser - Active",
    "0004": "Expired",
    "0005": "Cancelled",
    "0006": "Dispensed",
    "0007": "Not Dispensed",
}
# EPS line-item (MedicationDispense.type) status.
LINE_ITEM_STATUSES: Final[dict[str, str]] = {
    "0001": "Item fully dispensed",
    "0002": "Item not dispensed",
    "0003": "Item dispensed - partial",
    "0004": "Item not dispensed owing",
    "0005": "Item cancelled",
    "0006": "Expired",
    "0007": "Item to be dispensed",
    "0008": "Item with dispenser",
}
