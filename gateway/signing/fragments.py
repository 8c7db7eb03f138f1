"""The HL7 v3 fragments an EPS prescriber signs ("FragmentsToBeHashed"), rebuilt from a prescription-order bundle.

EPS never signs FHIR. Its `$prepare` translates the bundle to an HL7 v3 ParentPrescription, takes five parts of it
and digests their exclusive-C14N form; the prescriber signs a SignedInfo carrying that digest. EPS's signature
verification does the same translation again and compares. This module restates that translation for the parts that
are signed (EPS coordinator, NHSDigital/electronic-prescription-service-api, `services/translation/request/`:
`signature.ts` extractFragments + convertFragmentsToHashableFormat; `prescription.ts`, `practitioner.ts`,
`organization.ts`, `patient.ts`, `job-role-code.ts`, `common/index.ts`; HL7 v3 classes in `packages/models/hl7-v3/`;
line items in `line_items`, HL7 v3 datatypes in `hl7v3`):

    <FragmentsToBeHashed>
      <Fragment><time value="author time"/><id root="PRESCRIPTION-UUID"/></Fragment>
      <Fragment><AgentPerson>the requester, its organisation and the organisation's parent</AgentPerson></Fragment>
      <Fragment><recordTarget>the patient</recordTarget></Fragment>
      <Fragment><pertinentLineItem>one per MedicationRequest, repeatNumber without low</pertinentLineItem></Fragment>…
    </FragmentsToBeHashed>

Each fragment root declares `xmlns="urn:hl7-org:v3"`. Element order follows EPS's classes; attribute order does not
matter (C14N sorts them); an attribute EPS leaves undefined is left out. An order EPS itself cannot translate
raises FragmentError naming the FHIR element (EPS answers such an order with an error, so no signature fits it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from gateway.signing import hl7v3 as v3
from gateway.signing import line_items
from gateway.signing.exceptions import FragmentError

PRESCRIPTION_ID_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionId"
JOB_ROLE_SYSTEMS = (
    "https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode",
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-SDSJobRoleName",
)
# practitioner.ts getAgentPersonPersonIdForAuthor: exactly one of these, in this order
PROFESSIONAL_CODE_SYSTEMS = tuple(
    f"https://fhir.hl7.org.uk/Id/{name}" for name in ("gmc-number", "gmp-number", "nmc-number", "gphc-number",
                                                      "hcpc-number", "professional-code")
)  # fmt: skip
UNKNOWN_GP = "V81999"
_GENDER = {"unknown": "0", "male": "1", "female": "2", "other": "9"}


def fragments_to_be_hashed(bundle: Mapping[str, Any], *, author_time: object) -> bytes:
    """The exclusive-C14N bytes EPS digests for this prescription-order bundle.

    `author_time` is the prescriber's signing time (`Provenance.signature.when`, or the `timestamp` `$prepare`
    answered), as a FHIR dateTime.
    """
    return _Translation(bundle).fragments(author_time)


class _Translation:
    def __init__(self, bundle: Mapping[str, Any]) -> None:
        entries = bundle.get("entry")
        if not isinstance(entries, list):
            raise FragmentError("Bundle.entry", "no entries")
        self.by_url: dict[str, Mapping[str, Any]] = {}
        self.resources: list[Mapping[str, Any]] = []
        for entry in entries:
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if not isinstance(resource, Mapping):
                continue
            self.resources.append(resource)
            if isinstance(entry.get("fullUrl"), str):
                self.by_url[entry["fullUrl"]] = resource
            if isinstance(resource.get("id"), str):
                self.by_url[f"{resource.get('resourceType')}/{resource['id']}"] = resource
        self.requests = [r for r in self.resources if r.get("resourceType") == "MedicationRequest"]
        if not self.requests:
            raise FragmentError("Bundle.entry", "no MedicationRequest")
        patients = [r for r in self.resources if r.get("resourceType") == "Patient"]
        if len(patients) != 1:
            raise FragmentError("Bundle.entry", f"{len(patients)} Patient entries where EPS needs one")
        self.patient = patients[0]
        self.communication = [r for r in self.resources if r.get("resourceType") == "CommunicationRequest"]

    # signature.ts: time+id, AgentPerson, recordTarget, one pertinentLineItem per MedicationRequest
    def fragments(self, author_time: object) -> bytes:
        first = self.requests[0]
        root = etree.Element("FragmentsToBeHashed")
        head = etree.SubElement(root, "Fragment")
        v3.hl7_root(head, "time").set("value", v3.hl7_datetime(author_time, "Provenance.signature.when"))
        v3.hl7_root(head, "id").set("root", v3.global_id(_prescription_id(first)))
        self._agent_person(v3.hl7_root(etree.SubElement(root, "Fragment"), "AgentPerson"), self._requester(first))
        self._record_target(v3.hl7_root(etree.SubElement(root, "Fragment"), "recordTarget"))
        repeat = line_items.repeat_high(self.requests)
        for index, request in enumerate(self.requests):
            fragment = v3.hl7_root(etree.SubElement(root, "Fragment"), "pertinentLineItem")
            instructions = line_items.additional_instructions(
                request, self.communication, self.resolve, first=index == 0
            )
            line_items.write_line_item(
                fragment, request, repeat=repeat, instructions=instructions, resolve=self.resolve
            )
        out: bytes = etree.tostring(root, method="c14n", exclusive=True, with_comments=False)
        return out

    def resolve(self, reference: object, path: str) -> Mapping[str, Any]:
        ref = reference.get("reference") if isinstance(reference, Mapping) else None
        found = self.by_url.get(ref) if isinstance(ref, str) else None
        if found is None:
            raise FragmentError(path, f"reference {ref!r} is not an entry of the bundle")
        return found

    def _requester(self, request: Mapping[str, Any]) -> Mapping[str, Any]:
        return self.resolve(request.get("requester"), "MedicationRequest.requester")

    # practitioner.ts convertPractitionerRole / createAgentPerson; organization.ts
    def _agent_person(self, agent: etree._Element, role: Mapping[str, Any]) -> None:
        agent.set("classCode", "AGNT")
        practitioner = self._practitioner(role)
        organisation = self._organisation(role)
        if role.get("identifier") is not None:
            role_id = v3.identifier(role.get("identifier"), "https://fhir.nhs.uk/Id/sds-role-profile-id")
            if role_id is None:
                raise FragmentError("PractitionerRole.identifier", "no SDS role profile id")
            v3.sub(agent, "id", root="1.2.826.0.1285.0.2.0.67", extension=role_id)
        if role.get("code") is not None:
            v3.sub(agent, "code", codeSystem="1.2.826.0.1285.0.2.1.104", code=_job_role(role))
        for telecom in self._agent_telecom(role, practitioner, organisation):
            v3.write_telecom(agent, telecom)
        if practitioner is not None:
            person = v3.sub(agent, "agentPerson", classCode="PSN", determinerCode="INSTANCE")
            v3.sub(person, "id", root="1.2.826.0.1285.0.2.1.54", extension=_professional_code(practitioner))
            names = practitioner.get("name")
            if names is not None:
                if not isinstance(names, list) or len(names) != 1:
                    raise FragmentError("Practitioner.name", "EPS takes exactly one name")
                v3.write_name(person, names[0])
        self._represented_organisation(agent, organisation, role)

    # common/index.ts resolvePractitioner, resolveOrganization, resolveHealthcareService: a reference to an entry, or
    # an identifier (with display) from which EPS makes the resource up
    def _practitioner(self, role: Mapping[str, Any]) -> Mapping[str, Any] | None:
        reference = role.get("practitioner")
        if not isinstance(reference, Mapping):
            return None
        if "reference" in reference:
            return self.resolve(reference, "PractitionerRole.practitioner")
        return {"identifier": [reference.get("identifier")], "name": [{"text": reference.get("display")}]}

    def _organisation(self, role: Mapping[str, Any]) -> Mapping[str, Any]:
        reference = role.get("organization")
        if isinstance(reference, Mapping) and "reference" not in reference:
            return {
                "resourceType": "Organization",
                "identifier": [reference.get("identifier")],
                "name": reference.get("display"),
                "telecom": role.get("telecom"),
                "address": [
                    self.resolve(location, "PractitionerRole.location").get("address")
                    for location in role.get("location") or []
                ],
            }
        return self.resolve(reference, "PractitionerRole.organization")

    def _service(self, role: Mapping[str, Any]) -> Mapping[str, Any] | None:
        services = role.get("healthcareService")
        if not isinstance(services, list) or not services:
            return None
        reference = services[0]
        if isinstance(reference, Mapping) and "reference" not in reference:
            return {
                "resourceType": "HealthcareService",
                "identifier": [reference.get("identifier")],
                "name": reference.get("display"),
                "telecom": role.get("telecom"),
                "location": role.get("location"),
            }
        return self.resolve(reference, "PractitionerRole.healthcareService")

    def _agent_telecom(
        self, role: Mapping[str, Any], practitioner: Mapping[str, Any] | None, organisation: Mapping[str, Any]
    ) -> list[Mapping[str, Any]]:
        """practitioner.ts getAgentPersonTelecom: the role's, else the practitioner's (when referenced), else the
        organisation's."""
        by_reference = isinstance(role.get("practitioner"), Mapping) and "reference" in role["practitioner"]
        for source in (role, practitioner if by_reference and practitioner is not None else organisation):
            if source.get("telecom") is not None:
                return list(source["telecom"])
        raise FragmentError("PractitionerRole.telecom", "ResponsiblePractitioner must have at least one telecom")

    def _represented_organisation(
        self, agent: etree._Element, organisation: Mapping[str, Any], role: Mapping[str, Any]
    ) -> None:
        service = self._service(role)
        centre = service if service is not None else organisation
        kind = str(centre.get("resourceType"))
        out = v3.write_organisation(agent, "representedOrganization", centre, kind)
        telecoms = centre.get("telecom")
        if not isinstance(telecoms, list) or len(telecoms) != 1:
            raise FragmentError(f"{kind}.telecom", "EPS takes exactly one telecom")
        v3.write_telecom(out, telecoms[0])
        if service is not None:
            locations = service.get("location")
            if not isinstance(locations, list) or len(locations) != 1:
                raise FragmentError("HealthcareService.location", "EPS takes exactly one location")
            address = self.resolve(locations[0], "HealthcareService.location").get("address")
            if not isinstance(address, Mapping):
                raise FragmentError("Location.address", "Address must be provided")
        else:
            addresses = organisation.get("address")
            if not isinstance(addresses, list) or len(addresses) != 1:
                raise FragmentError("Organization.address", "EPS takes exactly one address")
            address = addresses[0]
        v3.write_address(out, address)
        parent = organisation
        part_of = organisation.get("partOf")
        if isinstance(part_of, Mapping):
            if "reference" in part_of:
                parent = self.resolve(part_of, "Organization.partOf")
            else:
                parent = {"identifier": [part_of.get("identifier")], "name": part_of.get("display")}
        licence = v3.sub(out, "healthCareProviderLicense", classCode="PROV")
        v3.write_organisation(licence, "Organization", parent, "Organization")

    # patient.ts convertPatient
    def _record_target(self, target: etree._Element) -> None:
        target.set("typeCode", "RCT")
        patient = self.patient
        out = v3.sub(target, "Patient", classCode="PAT")
        nhs_number = v3.identifier(patient.get("identifier"), "https://fhir.nhs.uk/Id/nhs-number")
        if nhs_number is None:
            raise FragmentError("Patient.identifier", "no NHS number")
        v3.sub(out, "id", root="2.16.840.1.113883.2.1.4.1", extension=nhs_number)
        for address in patient.get("address") or []:
            v3.write_address(out, address)
        for telecom in patient.get("telecom") or []:
            v3.write_telecom(out, telecom)
        person = v3.sub(out, "patientPerson", classCode="PSN", determinerCode="INSTANCE")
        for name in patient.get("name") or []:
            v3.write_name(person, name)
        gender = _GENDER.get(str(patient.get("gender")))
        if gender is None:
            raise FragmentError("Patient.gender", f"{patient.get('gender')!r} has no HL7 v3 sex code")
        v3.sub(person, "administrativeGenderCode", codeSystem="2.16.840.1.113883.2.1.3.2.4.16.25", code=gender)
        v3.sub(person, "birthTime", value=v3.hl7_date(patient.get("birthDate"), "Patient.birthDate"))
        provision = v3.sub(
            v3.sub(v3.sub(person, "playedProviderPatient", classCode="PAT"), "subjectOf", typeCode="SBJ"),
            "patientCareProvision", classCode="PCPR", moodCode="EVN",
        )  # fmt: skip
        v3.sub(provision, "code", codeSystem="2.16.840.1.113883.2.1.3.2.4.17.37", code="1")
        provider = v3.sub(
            v3.sub(provision, "responsibleParty", typeCode="RESP"), "healthCareProvider", classCode="PROV"
        )
        gps = patient.get("generalPractitioner") or []
        if len(gps) > 1:
            raise FragmentError("Patient.generalPractitioner", "EPS takes at most one general practitioner")
        gp = (gps[0].get("identifier") or {}).get("value") if gps and isinstance(gps[0], Mapping) else None
        if gp is None or gp == UNKNOWN_GP:
            v3.sub(provider, "id", nullFlavor="UNK")
        else:
            v3.sub(provider, "id", root="1.2.826.0.1285.0.1.10", extension=gp)


def _professional_code(practitioner: Mapping[str, Any]) -> str:
    codes = [v for s in PROFESSIONAL_CODE_SYSTEMS if (v := v3.identifier(practitioner.get("identifier"), s))]
    if len(codes) != 1:
        raise FragmentError("Practitioner.identifier", f"expected exactly one professional code, found {len(codes)}")
    code = codes[0]
    gmc = v3.identifier(practitioner.get("identifier"), PROFESSIONAL_CODE_SYSTEMS[0])
    return code[1:] if code == gmc and code.upper().startswith("C") else code


def _job_role(role: Mapping[str, Any]) -> str:
    for system in JOB_ROLE_SYSTEMS:
        for concept in role.get("code") or []:
            for coding in concept.get("coding") or []:
                if coding.get("system") == system and coding.get("code"):
                    return str(coding["code"])
    raise FragmentError("PractitionerRole.code", "no SDS job role code")


def _prescription_id(request: Mapping[str, Any]) -> str:
    group = request.get("groupIdentifier") or {}
    for extension in group.get("extension") or []:
        if extension.get("url") == PRESCRIPTION_ID_URL:
            value = (extension.get("valueIdentifier") or {}).get("value")
            if value:
                return str(value)
    raise FragmentError("MedicationRequest.groupIdentifier.extension", "no long-form prescription id")
