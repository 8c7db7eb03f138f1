"""Who a prescription-order is about and from, as JSON-ready resources: Patient, Practitioner, Role, Organization."""

from __future__ import annotations

from typing import Any

from gateway.domain.directory import SDS_JOB_ROLES, Organisation, Prescribing, TeamContact, job_role_code
from gateway.domain.model import HomecarePrescription, Patient, Prescriber, Sex
from gateway.fhir import urls
from gateway.fhir.datatypes import ods_identifier, urn

SDS_JOB_ROLE_CODE = "https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode"

GENDERS = {Sex.MALE: "male", Sex.FEMALE: "female", Sex.UNKNOWN: "unknown", Sex.INDETERMINATE: "other"}


def patient_name(patient: Patient) -> dict[str, Any]:
    name: dict[str, Any] = {"use": "usual", "family": patient.family}
    if patient.given:
        name["given"] = list(patient.given)
    if patient.title:
        name["prefix"] = [patient.title]
    return name


def patient_telecom(patient: Patient) -> list[dict[str, str]]:
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone, "use": "home"})
    if patient.mobile:
        telecom.append({"system": "phone", "value": patient.mobile, "use": "mobile"})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email, "use": "home"})
    return telecom


def patient_resource(p: HomecarePrescription, patient: Patient, resource_id: str) -> dict[str, Any]:
    identifiers: list[dict[str, Any]] = [{"system": urls.NHS_NUMBER, "value": patient.nhs_number}]
    if patient.hospital_number:
        identifiers.append(
            {
                "system": urls.LOCAL_PATIENT_IDENTIFIER,
                "value": patient.hospital_number,
                "assigner": {"identifier": ods_identifier(p.trust_ods)},
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": resource_id,
        "identifier": identifiers,
        "name": [patient_name(patient)],
    }
    telecom = patient_telecom(patient)
    if telecom:
        resource["telecom"] = telecom
    resource["gender"] = GENDERS[patient.sex]
    resource["birthDate"] = patient.birth_date.isoformat()
    resource["address"] = [{"use": "home", "line": list(patient.address.lines), "postalCode": patient.address.postcode}]
    return resource


def prescriber_name(prescriber: Prescriber) -> dict[str, Any]:
    """Structured when the source split the name, else the name as written."""
    if prescriber.family:
        name: dict[str, Any] = {"family": prescriber.family}
        if prescriber.given:
            name["given"] = [prescriber.given]
        return name
    return {"text": prescriber.name}


def practitioner_resource(prescriber: Prescriber, resource_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": resource_id,
        "identifier": [
            {"system": urls.PRESCRIBER_NUMBER_SYSTEMS[prescriber.code_type.value], "value": prescriber.code}
        ],
        "name": [prescriber_name(prescriber)],
    }


def job_role(contact: TeamContact) -> dict[str, Any]:
    """PractitionerRole.code: the SDS job role EPS translates into the HL7 v3 author's code (job-role-code.ts)."""
    code = job_role_code(contact.job_role)
    coding = {"system": SDS_JOB_ROLE_CODE, "code": code}
    if code in SDS_JOB_ROLES:
        coding["display"] = SDS_JOB_ROLES[code]
    return {"coding": [coding]}


def work_phone(number: str) -> dict[str, str]:
    return {"system": "phone", "value": number, "use": "work"}


def practitioner_role_resource(
    prescriber: Prescriber,
    resource_id: str,
    *,
    practitioner_id: str,
    organization_id: str,
    contact: TeamContact,
) -> dict[str, Any]:
    """The prescriber in their role: the homecare team's telephone and SDS job role, the clinical specialty."""
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": resource_id,
        "practitioner": {"reference": urn(practitioner_id)},
        "organization": {"reference": urn(organization_id)},
        "code": [job_role(contact)],
    }
    if prescriber.specialty:
        role["specialty"] = [{"text": prescriber.specialty}]
    role["telecom"] = [work_phone(contact.telecom)]
    return role


def organization_resource(prescribing: Prescribing, resource_id: str) -> dict[str, Any]:
    """The prescribing organisation (a site, part of its trust, or the trust) with exactly one name, address and
    telephone, as EPS's organization.ts needs them; the parent named so that EPS can name it too."""
    org: Organisation = prescribing.organisation
    organization: dict[str, Any] = {
        "resourceType": "Organization",
        "id": resource_id,
        "identifier": [ods_identifier(org.ods)],
        "name": org.name,
        "telecom": [work_phone(org.telecom or "")],
        "address": [{"use": "work", "line": list(org.address.lines), "postalCode": org.address.postcode}],
    }
    if prescribing.parent is not None:
        organization["partOf"] = {
            "identifier": ods_identifier(prescribing.parent.ods),
            "display": prescribing.parent.name,
        }
    return organization
