"""The audited actions and the FHIR AuditEvent codes each one is recorded with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

AUDIT_EVENT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-event-type"
DCM: Final = "http://dicom.nema.org/resources/ontology/DCM"
RESTFUL_INTERACTION: Final = "http://hl7.org/fhir/restful-interaction"

FhirAction = Literal["C", "R", "U", "D", "E"]


@dataclass(frozen=True, slots=True)
class Code:
    system: str
    code: str
    display: str

    def as_json(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """AuditEvent.type, .subtype and .action for one audited action."""

    type: Code
    subtype: Code
    fhir_action: FhirAction
    description: str


REST: Final = Code(AUDIT_EVENT_TYPE, "rest", "RESTful Operation")
PATIENT_RECORD: Final = Code(DCM, "110110", "Patient Record")
EXPORT: Final = Code(DCM, "110106", "Export")
APPLICATION_ACTIVITY: Final = Code(DCM, "110100", "Application Activity")

READ: Final = Code(RESTFUL_INTERACTION, "read", "read")
CREATE: Final = Code(RESTFUL_INTERACTION, "create", "create")
UPDATE: Final = Code(RESTFUL_INTERACTION, "update", "update")
OPERATION: Final = Code(RESTFUL_INTERACTION, "operation", "operation")
RESTRICTED_FUNCTION: Final = Code(DCM, "110132", "Use of Restricted Function")
SOFTWARE_CONFIGURATION: Final = Code(DCM, "110131", "Software Configuration")
SECURITY_CONFIGURATION: Final = Code(DCM, "110129", "Security Configuration")
LOGIN: Final = Code(DCM, "110122", "Login")
LOGOUT: Final = Code(DCM, "110123", "Logout")

# Callers name an action from this table; an unknown name is refused so that every record carries proper codes.
ACTIONS: Final[dict[str, ActionSpec]] = {
    "patient-data.read": ActionSpec(PATIENT_RECORD, READ, "R", "a prescription, order or message was read"),
    "prescription.create": ActionSpec(REST, CREATE, "C", "a trust submitted a prescription"),
    "prescription.update": ActionSpec(REST, UPDATE, "U", "a prescription was amended or cancelled"),
    "order.release": ActionSpec(EXPORT, OPERATION, "E", "orders were released to a provider"),
    "order.acknowledge": ActionSpec(REST, UPDATE, "U", "a provider acknowledged or rejected an order"),
    "order.update": ActionSpec(REST, UPDATE, "U", "a provider reported dispensing or delivery"),
    "operator.replay": ActionSpec(APPLICATION_ACTIVITY, RESTRICTED_FUNCTION, "E", "an operator replayed a message"),
    "operator.edit": ActionSpec(APPLICATION_ACTIVITY, RESTRICTED_FUNCTION, "U", "an operator edited a message"),
    "operator.pause": ActionSpec(APPLICATION_ACTIVITY, RESTRICTED_FUNCTION, "U", "an operator paused delivery"),
    "operator.resume": ActionSpec(APPLICATION_ACTIVITY, RESTRICTED_FUNCTION, "U", "an operator resumed delivery"),
    "operator.login": ActionSpec(APPLICATION_ACTIVITY, LOGIN, "E", "an operator signed in, or was refused"),
    "operator.logout": ActionSpec(APPLICATION_ACTIVITY, LOGOUT, "E", "an operator signed out of the console"),
    "operator.dead-letter": ActionSpec(
        APPLICATION_ACTIVITY, RESTRICTED_FUNCTION, "U", "an operator set a dead-lettered message aside"
    ),
    "patient-data.unmask": ActionSpec(PATIENT_RECORD, READ, "R", "an operator unmasked patient data, with a reason"),
    "audit.read": ActionSpec(APPLICATION_ACTIVITY, READ, "R", "an auditor read the audit trail"),
    "invoice.submit": ActionSpec(REST, CREATE, "C", "a provider submitted an invoice or claim"),
    "invoice.decide": ActionSpec(REST, UPDATE, "U", "a trust approved or disputed invoice lines"),
    "price.change": ActionSpec(APPLICATION_ACTIVITY, SOFTWARE_CONFIGURATION, "U", "a price list was loaded"),
    "configuration.change": ActionSpec(
        APPLICATION_ACTIVITY, SOFTWARE_CONFIGURATION, "U", "providers, routes or settings changed"
    ),
    "security.configuration.change": ActionSpec(
        APPLICATION_ACTIVITY, SECURITY_CONFIGURATION, "U", "clients or keys added, disabled or rotated"
    ),
}
