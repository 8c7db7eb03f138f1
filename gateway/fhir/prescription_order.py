"""Canonical prescription → EPS-shaped FHIR `prescription-order` message Bundle, as plain JSON-ready dicts.

This is the fast path: no pydantic model is built here (`gateway.fhir.validation` checks the result and
`gateway.bench.naive_pipeline` builds the same Bundle from fhir.resources models, for comparison). Decimal values stay
`Decimal` objects so that `gateway.fhir.serialise.dumps_bundle` writes them exactly (0.4 stays 0.4).

Entry order follows the EPS examples: MessageHeader, one MedicationRequest per item, Patient, Practitioner,
PractitionerRole, Organization. Every fullUrl is `urn:uuid:<resource id>`.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

from gateway.domain.directory import Prescribing
from gateway.domain.identifiers import new_short_form_id
from gateway.domain.model import Action, HomecarePrescription, Item, Patient, Prescriber
from gateway.errors import InputError, Issue, Location
from gateway.fhir import urls
from gateway.fhir.datatypes import fhir_datetime, ods_identifier, urn
from gateway.fhir.dispense_schedule import Schedule, prescription_schedule, quantity
from gateway.fhir.dosage import dosage_instruction
from gateway.fhir.parties import (
    organization_resource,
    patient_resource,
    practitioner_resource,
    practitioner_role_resource,
)
from gateway.fhir.terminology import HOMECARE_PRESCRIPTION_TYPES, homecare_prescription_type

PERFORMER_SITE_TYPE = "P1"


@dataclass(frozen=True)
class OrderIds:
    """The ids one prescription-order carries; persist them so that a resend is byte-for-byte the same message."""

    message_id: str  # MessageHeader.id and Bundle.id
    bundle_identifier: str
    prescription_id: str  # long-form UUID (Extension-DM-PrescriptionId)
    short_form_id: str  # EPS short-form id, MOD 37-2 check character
    item_ids: dict[int, str]  # line_no → line-item UUID (MedicationRequest.id and its item-number identifier)
    patient_id: str
    practitioner_id: str
    practitioner_role_id: str
    organization_id: str

    @classmethod
    def new(cls, prescription: HomecarePrescription) -> OrderIds:
        """Fresh uuid4s, and a short-form id naming the prescribing site (else the trust)."""
        return cls(
            message_id=_uuid(),
            bundle_identifier=_uuid(),
            prescription_id=_uuid(),
            short_form_id=new_short_form_id(prescription.site_code or prescription.trust_ods),
            item_ids={item.line_no: _uuid() for item in prescription.items},
            patient_id=_uuid(),
            practitioner_id=_uuid(),
            practitioner_role_id=_uuid(),
            organization_id=_uuid(),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (item_ids keyed by the line number as a string)."""
        out = dataclasses.asdict(self)
        out["item_ids"] = {str(k): v for k, v in self.item_ids.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderIds:
        values = dict(data)
        values["item_ids"] = {int(k): str(v) for k, v in data["item_ids"].items()}
        return cls(**values)


def _uuid() -> str:
    return str(uuid.uuid4())


def required_parties(prescription: HomecarePrescription) -> tuple[Patient, Prescriber]:
    """The patient and prescriber a new order needs; InputError naming whatever is missing."""
    issues: list[Issue] = []
    if prescription.action is Action.CANCEL:
        issues.append(
            Issue(
                code="UNSUPPORTED_ACTION",
                message="a CANCEL is sent as a prescription-order-update, not a prescription-order",
                location=Location(path="action"),
                value=prescription.action.value,
            )
        )
    if prescription.patient is None:
        issues.append(
            Issue(
                code="MISSING_VALUE",
                message="a prescription-order needs the patient",
                location=Location(path="patient"),
            )
        )
    if prescription.prescriber is None:
        issues.append(
            Issue(
                code="MISSING_VALUE",
                message="a prescription-order needs the prescriber",
                location=Location(path="prescriber"),
            )
        )
    if not prescription.items:
        issues.append(
            Issue(
                code="MISSING_VALUE",
                message="a prescription-order needs at least one item",
                location=Location(path="items"),
            )
        )
    seen: set[int] = set()
    for index, item in enumerate(prescription.items):
        if item.line_no in seen:
            issues.append(
                Issue(
                    code="DUPLICATE_VALUE",
                    message="line numbers must be unique within a prescription",
                    location=Location(path=f"items[{index}].line_no"),
                    value=str(item.line_no),
                )
            )
        seen.add(item.line_no)
    patient, prescriber = prescription.patient, prescription.prescriber
    if issues or patient is None or prescriber is None:
        raise InputError(issues)
    return patient, prescriber


def resolve_prescription_type(prescriber: Prescriber, override: str | None = None) -> tuple[str, str]:
    """The 12xx Outpatient Homecare prescription type (code, display): `override` if given, else by register."""
    code = override or homecare_prescription_type(prescriber.code_type.value, prescriber.code)
    if code is None or code not in HOMECARE_PRESCRIPTION_TYPES:
        path, value = ("prescriber.code", prescriber.code) if code is None else ("prescription_type", code)
        raise InputError(
            [
                Issue(
                    code="UNSUPPORTED_PRESCRIBER",
                    message="no Outpatient Homecare prescription type (12xx) for this prescriber",
                    location=Location(path=path),
                    value=value,
                    expected="a medical, nurse, pharmacist or HCPC-registered prescribing profession, or one of "
                    + ", ".join(HOMECARE_PRESCRIPTION_TYPES),
                )
            ]
        )
    return code, HOMECARE_PRESCRIPTION_TYPES[code]


def build_prescription_order(
    p: HomecarePrescription,
    ids: OrderIds,
    *,
    provider_ods: str,
    source_endpoint: str,
    prescribing: Prescribing,
    prescription_type: str | None = None,
) -> dict[str, Any]:
    """The prescription-order message Bundle for `p`, addressed to `provider_ods`, as JSON-ready dicts.

    `prescribing` is what the trust configured and the export does not carry (organisation, team contact).
    """
    patient, prescriber = required_parties(p)
    type_code, type_display = resolve_prescription_type(prescriber, prescription_type)
    schedule = prescription_schedule(p)
    missing = [item.line_no for item in p.items if item.line_no not in ids.item_ids]
    if missing:
        raise ValueError(f"OrderIds has no line-item id for line(s) {missing}")
    authored = fhir_datetime(p.signed_at)
    requests = [
        _medication_request(p, item, ids, provider_ods, authored, (type_code, type_display), schedule)
        for item in p.items
    ]
    resources: list[dict[str, Any]] = [
        _message_header(p, prescriber, ids, provider_ods, source_endpoint),
        *requests,
        patient_resource(p, patient, ids.patient_id),
        practitioner_resource(prescriber, ids.practitioner_id),
        practitioner_role_resource(
            prescriber,
            ids.practitioner_role_id,
            practitioner_id=ids.practitioner_id,
            organization_id=ids.organization_id,
            contact=prescribing.contact,
        ),
        organization_resource(prescribing, ids.organization_id),
    ]
    return {
        "resourceType": "Bundle",
        "id": ids.message_id,
        "identifier": {"system": urls.BUNDLE_IDENTIFIER, "value": ids.bundle_identifier},
        "type": "message",
        "entry": [{"fullUrl": urn(r["id"]), "resource": r} for r in resources],
    }


def _message_header(
    p: HomecarePrescription, prescriber: Prescriber, ids: OrderIds, provider_ods: str, source_endpoint: str
) -> dict[str, Any]:
    return {
        "resourceType": "MessageHeader",
        "id": ids.message_id,
        "eventCoding": {"system": urls.MESSAGE_EVENT, "code": "prescription-order", "display": "Prescription Order"},
        "sender": {
            "identifier": ods_identifier(p.trust_ods),
            "reference": urn(ids.practitioner_role_id),
            "display": prescriber.name,
        },
        "source": {"endpoint": source_endpoint},
        "destination": [
            {
                "endpoint": urls.organization_endpoint(provider_ods),
                "receiver": {"identifier": ods_identifier(provider_ods)},
            }
        ],
        "focus": [{"reference": urn(ids.patient_id)}]
        + [{"reference": urn(ids.item_ids[item.line_no])} for item in p.items],
    }


def homecare_extensions(p: HomecarePrescription, item: Item) -> list[dict[str, Any]]:
    """Our homecare extensions on a MedicationRequest, those the prescription has values for."""
    out: list[dict[str, Any]] = []
    if p.service_type is not None:
        code, display = urls.HOMECARE_SERVICE_TYPES[p.service_type.value]
        out.append(
            {
                "url": urls.EXT_HOMECARE_SERVICE_TYPE,
                "valueCoding": {"system": urls.HOMECARE_SERVICE_TYPE, "code": code, "display": display},
            }
        )
    if item.first_delivery_date is not None:
        out.append({"url": urls.EXT_HOMECARE_FIRST_DELIVERY_DATE, "valueDate": item.first_delivery_date.isoformat()})
    if p.delivery_address is not None:
        out.append(
            {
                "url": urls.EXT_HOMECARE_DELIVERY_ADDRESS,
                "valueAddress": {"line": list(p.delivery_address.lines), "postalCode": p.delivery_address.postcode},
            }
        )
    if p.delivery_instructions:
        out.append({"url": urls.EXT_HOMECARE_DELIVERY_INSTRUCTIONS, "valueString": p.delivery_instructions})
    return out


def reason_code(p: HomecarePrescription) -> dict[str, Any] | None:
    if not p.indication and not p.indication_snomed:
        return None
    reason: dict[str, Any] = {}
    if p.indication_snomed:
        coding: dict[str, str] = {"system": urls.SNOMED, "code": p.indication_snomed}
        if p.indication:
            coding["display"] = p.indication
        reason["coding"] = [coding]
    if p.indication:
        reason["text"] = p.indication
    return reason


def _medication_request(
    p: HomecarePrescription,
    item: Item,
    ids: OrderIds,
    provider_ods: str,
    authored: str,
    prescription_type: tuple[str, str],
    schedule: Schedule,
) -> dict[str, Any]:
    item_id = ids.item_ids[item.line_no]
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": item_id,
        "extension": [
            {
                "url": urls.EXT_PRESCRIPTION_TYPE,
                "valueCoding": {
                    "system": urls.PRESCRIPTION_TYPE,
                    "code": prescription_type[0],
                    "display": prescription_type[1],
                },
            },
            *homecare_extensions(p, item),
        ],
        "identifier": [
            {"system": urls.PRESCRIPTION_ORDER_ITEM_NUMBER, "value": item_id},
            {
                "system": urls.TRUST_PRESCRIPTION_NUMBER,
                "value": p.rx_number,
                "assigner": {"identifier": ods_identifier(p.trust_ods)},
            },
        ],
        "status": "active",
        "intent": "order",
        "category": [
            {"coding": [{"system": urls.MEDICATIONREQUEST_CATEGORY, "code": "outpatient", "display": "Outpatient"}]}
        ],
        "medicationCodeableConcept": {
            "coding": [{"system": urls.SNOMED, "code": item.dmd_code, "display": item.description}]
        },
        "subject": {"reference": urn(ids.patient_id)},
        "authoredOn": authored,
        "requester": {"reference": urn(ids.practitioner_role_id)},
    }
    reason = reason_code(p)
    if reason is not None:
        request["reasonCode"] = [reason]
    request["groupIdentifier"] = {
        "extension": [
            {
                "url": urls.EXT_PRESCRIPTION_ID,
                "valueIdentifier": {"system": urls.PRESCRIPTION_ID, "value": ids.prescription_id},
            }
        ],
        "system": urls.PRESCRIPTION_ORDER_NUMBER,
        "value": ids.short_form_id,
    }
    request["courseOfTherapyType"] = schedule.course_of_therapy()
    request["dosageInstruction"] = [dosage_instruction(item)]
    request["dispenseRequest"] = {
        "extension": [
            {
                "url": urls.EXT_PERFORMER_SITE_TYPE,
                "valueCoding": {"system": urls.DISPENSING_SITE_PREFERENCE, "code": PERFORMER_SITE_TYPE},
            }
        ],
        **schedule.dispense_fields(),
        "quantity": quantity(item),
        "performer": {"identifier": ods_identifier(provider_ods)},
    }
    request["substitution"] = {"allowedBoolean": False}
    return request
