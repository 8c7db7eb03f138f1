"""The EPS-style prescription tracker: `GET /FHIR/R4/Task?focus:identifier=<short-form id>` answers a searchset of
Tasks: the prescription's (businessStatus its EPS status, an input per line item with the item's status, an output
per dispense notification that still counts), one per delivery, and the requests raised with the trust."""

from __future__ import annotations

import json
import uuid
from typing import Any

from gateway import audit
from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.domain.principal import READ, Principal, Role, require_role
from gateway.errors import NotFoundError
from gateway.fhir.dispense_notice import ITEM_NUMBER_SYSTEM
from gateway.fhir.inbound import ODS_SYSTEM, SHORT_FORM_SYSTEM, fail
from gateway.fhir.task_fields import NHS_NUMBER_SYSTEM, RFC4122, TASK_INPUT_SYSTEM
from gateway.lifecycle.clinical_queries import can_see, request_resource
from gateway.lifecycle.deliveries import DELIVERY_STATUS_SYSTEM, FAILED_REASON_SYSTEM
from gateway.lifecycle.supply import ACTIVE
from gateway.store import prescription_rows
from gateway.store.sealed import prescription_context
from gateway.store.tables import Delivery, DispenseRecord, Prescription, PrescriptionItem

PRESCRIPTION_ID_SYSTEM = "https://fhir.nhs.uk/Id/prescription"
BUSINESS_STATUS_SYSTEM = "https://fhir.nhs.uk/CodeSystem/EPS-task-business-status"
DISPENSE_TYPE_SYSTEM = "https://fhir.nhs.uk/CodeSystem/medicationdispense-type"
DISPENSING_INFORMATION_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-DispensingInformation"
MESSAGE_EVENT_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-event"
SNOMED = "http://snomed.info/sct"
_DELIVERY_TASK_STATUS = {
    "scheduled": "accepted",
    "dispatched": "in-progress",
    "delivered": "completed",
    "failed": "failed",
    "returned": "failed",
}


def read_focus(value: str | None) -> str:
    """The prescription a `focus:identifier` names: `[system|]value`, short-form or long-form id."""
    if not value:
        raise fail(
            "focus:identifier",
            "Query parameter must be one of: identifier, focus:identifier.",
            code="MISSING_VALUE",
            expected=f"{SHORT_FORM_SYSTEM}|<short-form prescription id>",
        )
    system, _, ident = value.rpartition("|")
    if system and system not in (SHORT_FORM_SYSTEM, PRESCRIPTION_ID_SYSTEM):
        raise fail(
            "focus:identifier",
            "the tracker finds prescriptions by their EPS id",
            value=system,
            expected=f"{SHORT_FORM_SYSTEM} or {PRESCRIPTION_ID_SYSTEM}",
        )
    if not ident or len(ident) > 64:
        raise fail("focus:identifier", "an identifier value is required", code="MISSING_VALUE", value=value)
    return ident


async def track(gw: Gateway, principal: Principal, focus: str | None) -> dict[str, Any]:
    """The tracker Bundle for the prescription `focus` names, for its trust, its provider or an operator; anyone
    else is answered as if it did not exist."""
    require_role(principal, Role.TRUST, Role.PROVIDER, Role.OPERATOR, scopes=READ)
    ident = read_focus(focus)
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        p = await prescription_rows.find_prescription(session, ident)
        if p is None or not can_see(principal, p):
            raise NotFoundError(f"prescription {ident} not found")
        items = await prescription_rows.prescription_items(session, p.id)
        deliveries = await prescription_rows.prescription_deliveries(session, p.id)
        records = await prescription_rows.dispense_records(session, p.id)
        raised = await prescription_rows.lifecycle_tasks(session, p.id)
        requests = [await request_resource(session, gw, t) for t in raised]
        canonical = json.loads(gw.cipher.open(p.canonical_enc, context=prescription_context(p.id, p.trust_ods)))
        await audit.append(session, gw.clock, principal, "patient-data.read", "prescription", p.id, "success")
    nhs = canonical["patient"]["nhs_number"] if canonical.get("patient") else None
    main = prescription_task(p, items, records, nhs)
    tasks = [main, *(delivery_task(p, d, nhs) for d in deliveries), *requests]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now.isoformat()},
        "type": "searchset",
        "total": len(tasks),
        "entry": [
            {"fullUrl": f"urn:uuid:{t['id']}", "resource": t, "search": {"mode": "match" if t is main else "include"}}
            for t in tasks
        ],
    }


def _common(p: Prescription, nhs: str | None) -> dict[str, Any]:
    common: dict[str, Any] = {
        "intent": "order",
        "focus": {"identifier": {"system": SHORT_FORM_SYSTEM, "value": p.short_form_id}},
        "requester": {"identifier": {"system": ODS_SYSTEM, "value": p.trust_ods}},
    }
    if nhs:
        common["for"] = {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs}}
    if p.provider_ods:
        common["owner"] = {"identifier": {"system": ODS_SYSTEM, "value": p.provider_ods}}
    return common


def prescription_task(
    p: Prescription, items: list[PrescriptionItem], records: list[DispenseRecord], nhs: str | None
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": p.id,
        "identifier": [{"system": PRESCRIPTION_ID_SYSTEM, "value": p.id}],
        "status": lifecycle.TASK_STATUS[p.status],
        "businessStatus": {
            "coding": [
                {
                    "system": BUSINESS_STATUS_SYSTEM,
                    "code": p.status,
                    "display": lifecycle.PRESCRIPTION_STATUS[p.status],
                }
            ]
        },
        "code": {"coding": [{"system": MESSAGE_EVENT_SYSTEM, "code": "prescription-order"}]},
        **_common(p, nhs),
        "authoredOn": p.created_at.isoformat(),
        "lastModified": p.updated_at.isoformat(),
        "restriction": {"repetitions": p.deliveries_authorised},
        "input": [_item_input(i) for i in items],
    }
    if p.supply_until is not None:
        task["executionPeriod"] = {"end": p.supply_until.isoformat()}
    outputs = [_dispense_output(r) for r in records if r.state == ACTIVE]
    if outputs:
        task["output"] = outputs
    return task


def _item_input(item: PrescriptionItem) -> dict[str, Any]:
    status = {"system": DISPENSE_TYPE_SYSTEM, "code": item.status, "display": lifecycle.ITEM_STATUS[item.status]}
    return {
        "extension": [
            {"url": DISPENSING_INFORMATION_URL, "extension": [{"url": "dispenseStatus", "valueCoding": status}]}
        ],
        "type": {"coding": [{"system": SNOMED, "code": "16076005", "display": "Prescription"}]},
        "valueReference": {
            "identifier": {"system": ITEM_NUMBER_SYSTEM, "value": item.id},
            "display": f"line {item.line_no}: {item.description}",
        },
    }


def _dispense_output(record: DispenseRecord) -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": SNOMED, "code": "373784005", "display": "Dispensing medication"}]},
        "valueReference": {"identifier": {"system": RFC4122, "value": record.id}},
    }


def delivery_task(p: Prescription, d: Delivery, nhs: str | None) -> dict[str, Any]:
    """Delivery `d` as a homecare delivery Task, part of the prescription's Task."""

    def given(code: str, **value: Any) -> dict[str, Any]:
        return {"type": {"coding": [{"system": TASK_INPUT_SYSTEM, "code": code}]}, **value}

    task_id = str(uuid.uuid5(uuid.UUID(p.id), f"delivery-{d.number}")) if _is_uuid(p.id) else f"{p.id}-{d.number}"
    inputs = [given("delivery-number", valueInteger=d.number)]
    if d.scheduled_date:
        inputs.append(given("scheduled-date", valueDate=d.scheduled_date.isoformat()))
    if d.window:
        inputs.append(given("delivery-window", valueString=d.window))
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "partOf": [{"reference": f"Task/{p.id}"}],
        "status": _DELIVERY_TASK_STATUS[d.state],
        "businessStatus": {"coding": [{"system": DELIVERY_STATUS_SYSTEM, "code": d.state}]},
        **_common(p, nhs),
        "lastModified": d.updated_at.isoformat(),
        "input": inputs,
    }
    reason = d.failure_reason
    if d.state in ("failed", "returned") and reason is not None and reason in lifecycle.FAILED_DELIVERY_REASONS:
        display = lifecycle.FAILED_DELIVERY_REASONS[reason][0]
        task["statusReason"] = {"coding": [{"system": FAILED_REASON_SYSTEM, "code": reason, "display": display}]}
    if d.delivered_at is not None:
        task["executionPeriod"] = {"end": d.delivered_at.isoformat()}
    return task


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
