"""The EPS acceptance rules: each restates one check of EPS's coordinator (or its FHIR specification) in our words.

`source` names the file of NHSDigital/electronic-prescription-service-api (under `packages/coordinator/src/`) whose
behaviour the rule restates, or the specification it comes from; `docs/eps-acceptance.md` lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gateway.errors import Issue, Location

_VALIDATOR: Final = "services/validation/bundle-validator.ts"
_COMMON: Final = "services/translation/common/index.ts"
_PRESCRIPTION: Final = "services/translation/request/prescription.ts"
_COURSE: Final = "services/translation/request/course-of-therapy-type.ts"
_LINE_ITEM: Final = "services/translation/request/line-item.ts"
_DOSAGE: Final = "services/translation/common/dosage-instructions.ts"
_PRACTITIONER: Final = "services/translation/request/practitioner.ts"
_JOB_ROLE: Final = "services/translation/request/job-role-code.ts"
_ORGANIZATION: Final = "services/translation/request/organization.ts"
_DEMOGRAPHICS: Final = "services/translation/request/demographics.ts"
_PATIENT: Final = "services/translation/request/patient.ts"
_SPEC: Final = "EPS FHIR API specification (digital.nhs.uk electronic-prescription-service-api), MedicationRequest"
_DMD: Final = "NHSBSA dm+d unit of measure (fhir_profiles/ValueSet/dmd-unit-of-measure.json)"


@dataclass(frozen=True, slots=True)
class EpsRule:
    """One thing EPS needs of an outbound prescription message, and where EPS says so."""

    code: str
    source: str
    summary: str

    def issue(self, path: str, detail: str | None = None, *, value: str | None = None) -> Issue:
        message = f"{detail or self.summary} (EPS: {self.source})"
        return Issue(code=self.code, message=message, location=Location(path=path), value=value)


def _rule(code: str, source: str, summary: str) -> EpsRule:
    return EpsRule(code, source, summary)


MESSAGE_EVENT = _rule("EPS_MESSAGE_EVENT", _COMMON, "the first entry is a MessageHeader with an eventCoding code")
BUNDLE_IDENTIFIER = _rule(
    "EPS_BUNDLE_IDENTIFIER",
    _COMMON,
    "Bundle.identifier has exactly one rfc4122 (https://tools.ietf.org/html/rfc4122) value",
)
MAX_ITEMS = _rule(
    "EPS_MAX_ITEMS",
    _VALIDATOR,
    "a prescription carries at most 4 MedicationRequests (a trust's longer prescription goes as several parts)",
)
INTENT = _rule("EPS_INTENT", _VALIDATOR, "MedicationRequest.intent is order, original-order or instance-order")
MEDICATION_CHOICE = _rule(
    "EPS_MEDICATION_CHOICE",
    _VALIDATOR,
    "a MedicationRequest has medicationCodeableConcept or medicationReference, not both",
)
IDENTICAL = _rule(
    "EPS_IDENTICAL_FOR_ALL_ITEMS", _VALIDATOR, "every MedicationRequest of one prescription has the same value"
)
STATUS = _rule("EPS_STATUS", _VALIDATOR, "MedicationRequest.status is active (cancelled in a cancellation)")
UNIQUE_ITEM = _rule("EPS_UNIQUE_LINE_ITEM_ID", _VALIDATOR, "line-item ids are unique within the prescription")
GMP_NUMBER = _rule(
    "EPS_NO_GMP_NUMBER", _VALIDATOR, "the prescriber is identified by GMC, NMC, GPhC, HCPC or professional code"
)
REPEATS_IDENTICAL = _rule(
    "EPS_REPEATS_IDENTICAL", _VALIDATOR, "repeat dispensing: every item allows the same numberOfRepeatsAllowed"
)
SUPPLY_DURATION = _rule(
    "EPS_EXPECTED_SUPPLY_DURATION",
    _PRESCRIPTION,
    "repeat dispensing: dispenseRequest.expectedSupplyDuration in days (code d)",
)
VALIDITY_PERIOD = _rule(
    "EPS_VALIDITY_PERIOD", _PRESCRIPTION, "repeat dispensing: dispenseRequest.validityPeriod with a start and an end"
)
REPEATS_REQUIRED = _rule(
    "EPS_REPEATS_REQUIRED", _PRESCRIPTION, "repeat dispensing: numberOfRepeatsAllowed of at least 1 (0 is read as none)"
)
COURSE_OF_THERAPY = _rule(
    "EPS_COURSE_OF_THERAPY",
    _COURSE,
    "courseOfTherapyType is one code for every item (or a mix of acute and continuous): acute, continuous or "
    "continuous-repeat-dispensing",
)
COURSE_OF_THERAPY_SYSTEM = _rule(
    "EPS_COURSE_OF_THERAPY_SYSTEM",
    _SPEC,
    "continuous-repeat-dispensing is coded under https://fhir.nhs.uk/CodeSystem/medicationrequest-course-of-therapy, "
    "acute and continuous under http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy",
)
PRESCRIPTION_ID = _rule(
    "EPS_PRESCRIPTION_ID", _PRESCRIPTION, "groupIdentifier has a short-form value and one Extension-DM-PrescriptionId"
)
EXTENSION_ONCE = _rule("EPS_REQUIRED_EXTENSION", _PRESCRIPTION, "exactly one of this extension")
LINE_ITEM_ID = _rule(
    "EPS_LINE_ITEM_ID", _LINE_ITEM, "exactly one https://fhir.nhs.uk/Id/prescription-order-item-number identifier"
)
QUANTITY_CODE = _rule(
    "EPS_QUANTITY_UNIT_CODE", _LINE_ITEM, "dispenseRequest.quantity has a value, a unit and its SNOMED CT unit code"
)
DMD_UNIT = _rule("EPS_DMD_UNIT", _DMD, "the quantity's unit code is a dm+d unit of measure")
DOSAGE_TEXT = _rule("EPS_DOSAGE_TEXT", _DOSAGE, "one dosageInstruction with text, or several that all have a sequence")
MEDICATION_CODING = _rule("EPS_MEDICATION_CODING", _COMMON, "the medication has exactly one SNOMED CT (dm+d) coding")
REQUESTER = _rule("EPS_REQUESTER", _PRACTITIONER, "requester resolves to exactly one PractitionerRole entry")
ROLE_REFERENCE = _rule(
    "EPS_ROLE_REFERENCE", _VALIDATOR, "PractitionerRole.practitioner and .organization are references to entries"
)
ROLE_IDENTIFIER = _rule(
    "EPS_ROLE_IDENTIFIER", _PRACTITIONER, "a PractitionerRole.identifier holds exactly one SDS role profile id"
)
JOB_ROLE = _rule(
    "EPS_JOB_ROLE",
    _JOB_ROLE,
    "PractitionerRole.code carries an SDS job-role coding (https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode "
    "or https://fhir.hl7.org.uk/CodeSystem/UKCore-SDSJobRoleName)",
)
RESPONSIBLE_TELECOM = _rule(
    "EPS_RESPONSIBLE_TELECOM",
    _PRACTITIONER,
    "the responsible practitioner has a telecom: PractitionerRole.telecom, else the Practitioner's",
)
TELECOM_USE = _rule("EPS_TELECOM_USE", _DEMOGRAPHICS, "a telecom use is home, work, temp or mobile")
ADDRESS_USE = _rule("EPS_ADDRESS_USE", _DEMOGRAPHICS, "an address use is home, work, temp or billing")
NAME_USE = _rule(
    "EPS_NAME_USE", _DEMOGRAPHICS, "a name use is usual, official, temp, anonymous, nickname, old or maiden"
)
PROFESSIONAL_CODE = _rule(
    "EPS_PROFESSIONAL_CODE", _PRACTITIONER, "the Practitioner has exactly one professional code (GMC|GMP|NMC|GPhC|HCPC)"
)
PRACTITIONER_NAME = _rule("EPS_PRACTITIONER_NAME", _PRACTITIONER, "a Practitioner has at most one name")
ORGANIZATION_IDENTIFIER = _rule(
    "EPS_ORGANIZATION_IDENTIFIER", _ORGANIZATION, "the Organization has exactly one ODS organisation code"
)
ORGANIZATION_NAME = _rule("EPS_ORGANIZATION_NAME", _ORGANIZATION, "the Organization has a name")
ORGANIZATION_TELECOM = _rule("EPS_ORGANIZATION_TELECOM", _ORGANIZATION, "the Organization has exactly one telecom")
ORGANIZATION_ADDRESS = _rule("EPS_ORGANIZATION_ADDRESS", _ORGANIZATION, "the Organization has exactly one address")
PARENT_ORGANIZATION = _rule(
    "EPS_PARENT_ORGANIZATION",
    _ORGANIZATION,
    "Organization.partOf resolves to an entry, or names the parent's ODS code and its name (display)",
)
PATIENT = _rule(
    "EPS_PATIENT", _PATIENT, "the Patient has one NHS number, a name, an address, a gender and a birth date"
)
CANCELLATION = _rule(
    "EPS_CANCELLATION",
    _VALIDATOR,
    "a cancellation carries exactly one MedicationRequest, cancelled, with a statusReason",
)

ALL_RULES: Final[tuple[EpsRule, ...]] = tuple(v for v in list(globals().values()) if isinstance(v, EpsRule))

REPOSITORY: Final = "NHSDigital/electronic-prescription-service-api, packages/coordinator/src/"


def catalogue_markdown() -> str:
    """The rules as the table in docs/eps-acceptance.md (a test keeps the two the same)."""
    lines = ["| rule | what EPS needs | source |", "| --- | --- | --- |"]
    for rule in ALL_RULES:
        lines.append(f"| `{rule.code}` | {rule.summary} | {rule.source} |")
    return "\n".join(lines) + "\n"
