"""The same prescription-order Bundle built the naive way: fhir.resources R4B model objects, then the model's JSON.

Only the benchmark uses this, to show what the dict fast path (`gateway.fhir.prescription_order`) saves. The
values come from the same helpers, so the two outputs are equal once parsed; the one known difference is number
spelling: the models write a Decimal without trailing zeros (`0.40` → `0.4`), the fast path writes it as given.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.address import Address
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.dosage import Dosage, DosageDoseAndRate
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.medicationrequest import (
    MedicationRequest,
    MedicationRequestDispenseRequest,
    MedicationRequestSubstitution,
)
from fhir.resources.R4B.messageheader import MessageHeader, MessageHeaderDestination, MessageHeaderSource
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.timing import Timing, TimingRepeat

from gateway.domain import model
from gateway.domain.directory import Prescribing
from gateway.fhir import urls
from gateway.fhir.datatypes import fhir_datetime, urn
from gateway.fhir.dispense_schedule import Schedule, prescription_schedule, quantity
from gateway.fhir.dosage import dosage_text, dose_quantity, parse_frequency, route_coding
from gateway.fhir.parties import GENDERS, job_role, prescriber_name, work_phone
from gateway.fhir.prescription_order import (
    PERFORMER_SITE_TYPE,
    OrderIds,
    reason_code,
    required_parties,
    resolve_prescription_type,
)


def build_prescription_order_naive(
    p: model.HomecarePrescription,
    ids: OrderIds,
    *,
    provider_ods: str,
    source_endpoint: str,
    prescribing: Prescribing,
) -> str:
    """The prescription-order Bundle as JSON text, built from R4B model objects."""
    patient, prescriber = required_parties(p)
    type_code, type_display = resolve_prescription_type(prescriber)
    schedule = prescription_schedule(p)
    authored = fhir_datetime(p.signed_at)
    requests = [
        _medication_request(p, item, ids, provider_ods, authored, (type_code, type_display), schedule)
        for item in p.items
    ]
    header = MessageHeader(
        id=ids.message_id,
        eventCoding=Coding(system=urls.MESSAGE_EVENT, code="prescription-order", display="Prescription Order"),
        sender=Reference(
            identifier=_ods(p.trust_ods), reference=urn(ids.practitioner_role_id), display=prescriber.name
        ),
        source=MessageHeaderSource(endpoint=source_endpoint),
        destination=[
            MessageHeaderDestination(
                endpoint=urls.organization_endpoint(provider_ods), receiver=Reference(identifier=_ods(provider_ods))
            )
        ],
        focus=[Reference(reference=urn(ids.patient_id))]
        + [Reference(reference=urn(ids.item_ids[item.line_no])) for item in p.items],
    )
    resources: list[Any] = [
        header,
        *requests,
        _patient(p, patient, ids),
        Practitioner(
            id=ids.practitioner_id,
            identifier=[
                Identifier(system=urls.PRESCRIBER_NUMBER_SYSTEMS[prescriber.code_type.value], value=prescriber.code)
            ],
            name=[HumanName(**prescriber_name(prescriber))],
        ),
        PractitionerRole(
            id=ids.practitioner_role_id,
            practitioner=Reference(reference=urn(ids.practitioner_id)),
            organization=Reference(reference=urn(ids.organization_id)),
            code=[CodeableConcept(**job_role(prescribing.contact))],
            specialty=[CodeableConcept(text=prescriber.specialty)] if prescriber.specialty else None,
            telecom=[ContactPoint(**work_phone(prescribing.contact.telecom))],
        ),
        _organization(prescribing, ids),
    ]
    bundle = Bundle(
        id=ids.message_id,
        identifier=Identifier(system=urls.BUNDLE_IDENTIFIER, value=ids.bundle_identifier),
        type="message",
        entry=[BundleEntry(fullUrl=urn(r.id), resource=r) for r in resources],
    )
    return str(bundle.model_dump_json())


def _organization(prescribing: Prescribing, ids: OrderIds) -> Organization:
    org, parent = prescribing.organisation, prescribing.parent
    return Organization(
        id=ids.organization_id,
        identifier=[_ods(org.ods)],
        name=org.name,
        telecom=[ContactPoint(**work_phone(org.telecom or ""))],
        address=[Address(use="work", line=list(org.address.lines), postalCode=org.address.postcode)],
        partOf=Reference(identifier=_ods(parent.ods), display=parent.name) if parent is not None else None,
    )


def _ods(code: str) -> Identifier:
    return Identifier(system=urls.ODS_ORGANIZATION_CODE, value=code)


def _extensions(p: model.HomecarePrescription, item: model.Item) -> list[Extension]:
    out: list[Extension] = []
    if p.service_type is not None:
        code, display = urls.HOMECARE_SERVICE_TYPES[p.service_type.value]
        out.append(
            Extension(
                url=urls.EXT_HOMECARE_SERVICE_TYPE,
                valueCoding=Coding(system=urls.HOMECARE_SERVICE_TYPE, code=code, display=display),
            )
        )
    if item.first_delivery_date is not None:
        out.append(Extension(url=urls.EXT_HOMECARE_FIRST_DELIVERY_DATE, valueDate=item.first_delivery_date))
    if p.delivery_address is not None:
        address = Address(line=list(p.delivery_address.lines), postalCode=p.delivery_address.postcode)
        out.append(Extension(url=urls.EXT_HOMECARE_DELIVERY_ADDRESS, valueAddress=address))
    if p.delivery_instructions:
        out.append(Extension(url=urls.EXT_HOMECARE_DELIVERY_INSTRUCTIONS, valueString=p.delivery_instructions))
    return out


def _dosage(item: model.Item) -> Dosage:
    frequency = parse_frequency(item.frequency)
    route = None
    if item.route and item.route.strip():
        coded = route_coding(item.route)
        route = (
            CodeableConcept(text=item.route.strip())
            if coded is None
            else CodeableConcept(coding=[Coding(system=urls.SNOMED, code=coded[0], display=coded[1])])
        )
    dose = dose_quantity(item)
    instructions = item.instructions.strip() if item.instructions and item.instructions.strip() else None
    return Dosage(
        text=dosage_text(item, frequency),
        patientInstruction=instructions,
        timing=Timing(repeat=TimingRepeat(**frequency.repeat)) if frequency and frequency.repeat else None,
        asNeededBoolean=True if frequency and frequency.as_needed else None,
        route=route,
        doseAndRate=[DosageDoseAndRate(doseQuantity=Quantity(**dose))] if dose is not None else None,
    )


def _medication_request(
    p: model.HomecarePrescription,
    item: model.Item,
    ids: OrderIds,
    provider_ods: str,
    authored: str,
    prescription_type: tuple[str, str],
    schedule: Schedule,
) -> MedicationRequest:
    type_code, type_display = prescription_type
    item_id = ids.item_ids[item.line_no]
    reason = reason_code(p)
    return MedicationRequest(
        id=item_id,
        extension=[
            Extension(
                url=urls.EXT_PRESCRIPTION_TYPE,
                valueCoding=Coding(system=urls.PRESCRIPTION_TYPE, code=type_code, display=type_display),
            ),
            *_extensions(p, item),
        ],
        identifier=[
            Identifier(system=urls.PRESCRIPTION_ORDER_ITEM_NUMBER, value=item_id),
            Identifier(
                system=urls.TRUST_PRESCRIPTION_NUMBER,
                value=p.rx_number,
                assigner=Reference(identifier=_ods(p.trust_ods)),
            ),
        ],
        status="active",
        intent="order",
        category=[
            CodeableConcept(
                coding=[Coding(system=urls.MEDICATIONREQUEST_CATEGORY, code="outpatient", display="Outpatient")]
            )
        ],
        medicationCodeableConcept=CodeableConcept(
            coding=[Coding(system=urls.SNOMED, code=item.dmd_code, display=item.description)]
        ),
        subject=Reference(reference=urn(ids.patient_id)),
        authoredOn=authored,
        requester=Reference(reference=urn(ids.practitioner_role_id)),
        reasonCode=[CodeableConcept(**reason)] if reason is not None else None,
        groupIdentifier=Identifier(
            extension=[
                Extension(
                    url=urls.EXT_PRESCRIPTION_ID,
                    valueIdentifier=Identifier(system=urls.PRESCRIPTION_ID, value=ids.prescription_id),
                )
            ],
            system=urls.PRESCRIPTION_ORDER_NUMBER,
            value=ids.short_form_id,
        ),
        courseOfTherapyType=CodeableConcept(**schedule.course_of_therapy()),
        dosageInstruction=[_dosage(item)],
        dispenseRequest=MedicationRequestDispenseRequest(
            extension=[
                Extension(
                    url=urls.EXT_PERFORMER_SITE_TYPE,
                    valueCoding=Coding(system=urls.DISPENSING_SITE_PREFERENCE, code=PERFORMER_SITE_TYPE),
                )
            ],
            **schedule.dispense_fields(),
            quantity=Quantity(**quantity(item)),
            performer=Reference(identifier=_ods(provider_ods)),
        ),
        substitution=MedicationRequestSubstitution(allowedBoolean=False),
    )


def _patient(p: model.HomecarePrescription, patient: model.Patient, ids: OrderIds) -> Patient:
    identifiers = [Identifier(system=urls.NHS_NUMBER, value=patient.nhs_number)]
    if patient.hospital_number:
        identifiers.append(
            Identifier(
                system=urls.LOCAL_PATIENT_IDENTIFIER,
                value=patient.hospital_number,
                assigner=Reference(identifier=_ods(p.trust_ods)),
            )
        )
    telecom = []
    if patient.phone:
        telecom.append(ContactPoint(system="phone", value=patient.phone, use="home"))
    if patient.mobile:
        telecom.append(ContactPoint(system="phone", value=patient.mobile, use="mobile"))
    if patient.email:
        telecom.append(ContactPoint(system="email", value=patient.email, use="home"))
    return Patient(
        id=ids.patient_id,
        identifier=identifiers,
        name=[
            HumanName(
                use="usual",
                family=patient.family,
                given=list(patient.given) or None,
                prefix=[patient.title] if patient.title else None,
            )
        ],
        telecom=telecom or None,
        gender=GENDERS[patient.sex],
        birthDate=patient.birth_date,
        address=[Address(use="home", line=list(patient.address.lines), postalCode=patient.address.postcode)],
    )
