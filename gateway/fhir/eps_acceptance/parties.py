"""EPS acceptance of who a prescription is from and about (practitioner.ts, organization.ts, patient.ts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gateway.errors import Issue
from gateway.fhir import urls
from gateway.fhir.eps_acceptance import rules as r
from gateway.fhir.eps_acceptance.context import Message, as_dict, as_list, identifiers

SDS_JOB_ROLE_CODE: Final = "https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode"
SDS_JOB_ROLE_NAME: Final = "https://fhir.hl7.org.uk/CodeSystem/UKCore-SDSJobRoleName"
SDS_ROLE_PROFILE_ID: Final = "https://fhir.nhs.uk/Id/sds-role-profile-id"
GMP_NUMBER: Final = "https://fhir.hl7.org.uk/Id/gmp-number"
PROFESSIONAL_CODE: Final = "https://fhir.hl7.org.uk/Id/professional-code"
# The professional code systems EPS reads a prescriber's id from (getAgentPersonPersonIdForAuthor).
PROFESSIONAL_SYSTEMS: Final = (
    urls.GMC_NUMBER,
    GMP_NUMBER,
    urls.NMC_NUMBER,
    urls.GPHC_NUMBER,
    urls.HCPC_NUMBER,
    PROFESSIONAL_CODE,
)
TELECOM_USES: Final = ("home", "work", "temp", "mobile")
ADDRESS_USES: Final = ("home", "work", "temp", "billing")
NAME_USES: Final = ("usual", "official", "temp", "anonymous", "nickname", "old", "maiden")
GENDERS: Final = ("male", "female", "other", "unknown")


def demographics(here: str, resource: dict[str, Any]) -> Iterator[Issue]:
    """demographics.ts: the uses EPS can translate to HL7 v3."""
    for i, telecom in enumerate(as_list(resource.get("telecom"))):
        use = as_dict(telecom).get("use")
        if use is not None and use not in TELECOM_USES:
            yield r.TELECOM_USE.issue(f"{here}.telecom[{i}].use", value=str(use))
    for i, address in enumerate(as_list(resource.get("address"))):
        use = as_dict(address).get("use")
        if use is not None and use not in ADDRESS_USES:
            yield r.ADDRESS_USE.issue(f"{here}.address[{i}].use", value=str(use))
    for i, name in enumerate(as_list(resource.get("name"))):
        use = as_dict(name).get("use")
        if use is not None and use not in NAME_USES:
            yield r.NAME_USE.issue(f"{here}.name[{i}].use", value=str(use))


def requester_rules(message: Message, request_path: str, requester: Any) -> Iterator[Issue]:
    """practitioner.ts convertAuthor/convertResponsibleParty on the requester's PractitionerRole."""
    resolved = message.resolve(requester)
    if resolved is None or resolved[1].get("resourceType") != "PractitionerRole":
        yield r.REQUESTER.issue(f"{request_path}.requester")
        return
    index, role = resolved
    here = message.path(index)
    yield from demographics(here, role)
    practitioner = message.resolve(role.get("practitioner"))
    organization = message.resolve(role.get("organization"))
    if "identifier" in role and len(identifiers(role, SDS_ROLE_PROFILE_ID)) != 1:
        yield r.ROLE_IDENTIFIER.issue(f"{here}.identifier")
    if "code" in role:
        codings = [as_dict(c) for cc in as_list(role.get("code")) for c in as_list(as_dict(cc).get("coding"))]
        if not any(c.get("system") in (SDS_JOB_ROLE_CODE, SDS_JOB_ROLE_NAME) and c.get("code") for c in codings):
            yield r.JOB_ROLE.issue(f"{here}.code")
    telecom = as_list(role.get("telecom"))
    if not telecom:  # EPS falls back on the Practitioner's telecom, or the Organization's when no Practitioner entry
        fallback = practitioner or organization
        telecom = as_list(fallback[1].get("telecom")) if fallback is not None else []
    if not telecom:
        yield r.RESPONSIBLE_TELECOM.issue(f"{here}.telecom")
    if practitioner is not None:
        yield from practitioner_rules(message.path(practitioner[0]), practitioner[1])
    if organization is not None:
        yield from organization_rules(message, organization)


def reference_issues(message: Message, here: str, role: dict[str, Any]) -> Iterator[Issue]:
    """bundle-validator.ts validatePractitionerRole: practitioner (when given) and organization are references."""
    for element in ("practitioner", "organization"):
        value = as_dict(role.get(element))
        if (value or element == "organization") and message.resolve(value) is None:
            yield r.ROLE_REFERENCE.issue(f"{here}.{element}")


def practitioner_rules(here: str, practitioner: dict[str, Any]) -> Iterator[Issue]:
    codes = [i for s in PROFESSIONAL_SYSTEMS for i in identifiers(practitioner, s)]
    if identifiers(practitioner, GMP_NUMBER):
        yield r.GMP_NUMBER.issue(f"{here}.identifier")
    elif len(codes) != 1:
        yield r.PROFESSIONAL_CODE.issue(f"{here}.identifier", value=str(len(codes)))
    if len(as_list(practitioner.get("name"))) > 1:
        yield r.PRACTITIONER_NAME.issue(f"{here}.name")
    yield from demographics(here, practitioner)


def organization_rules(message: Message, found: tuple[int, dict[str, Any]]) -> Iterator[Issue]:
    """organization.ts: the cost centre's ODS code, name, one telecom, one address; the parent's code and name."""
    index, organization = found
    here = message.path(index)
    if len(identifiers(organization, urls.ODS_ORGANIZATION_CODE)) != 1:
        yield r.ORGANIZATION_IDENTIFIER.issue(f"{here}.identifier")
    if not organization.get("name"):
        yield r.ORGANIZATION_NAME.issue(f"{here}.name")
    if len(as_list(organization.get("telecom"))) != 1:
        yield r.ORGANIZATION_TELECOM.issue(f"{here}.telecom", value=str(len(as_list(organization.get("telecom")))))
    if len(as_list(organization.get("address"))) != 1:
        yield r.ORGANIZATION_ADDRESS.issue(f"{here}.address", value=str(len(as_list(organization.get("address")))))
    yield from demographics(here, organization)
    part_of = as_dict(organization.get("partOf"))
    if part_of:
        if "reference" in part_of:
            parent = message.resolve(part_of)
            if parent is None or not parent[1].get("name"):
                yield r.PARENT_ORGANIZATION.issue(f"{here}.partOf")
        elif as_dict(part_of.get("identifier")).get("system") != urls.ODS_ORGANIZATION_CODE or not part_of.get(
            "display"
        ):
            yield r.PARENT_ORGANIZATION.issue(f"{here}.partOf")


def patient_rules(message: Message) -> Iterator[Issue]:
    """patient.ts: the patient EPS translates (the MessageHeader's first focus, else the only Patient entry)."""
    for index, patient in message.of_type("Patient"):
        here = message.path(index)
        if (
            len(identifiers(patient, urls.NHS_NUMBER)) != 1
            or not as_list(patient.get("name"))
            or not isinstance(patient.get("address"), list)
            or patient.get("gender") not in GENDERS
            or not patient.get("birthDate")
        ):
            yield r.PATIENT.issue(here)
        yield from demographics(here, patient)
