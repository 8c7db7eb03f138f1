"""Requests a provider raises with the trust, as Tasks: a clinical query (Task.description asks) and "prescription
due" (the next prescription is needed by Task.restriction.period.end). The trust answers with the Task completed or
rejected and an output text. Both ends are timeline events; the texts stay in the sealed Task resources."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway import audit
from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.domain.principal import READ, UPDATE, WRITE, Principal, Role, require_role
from gateway.errors import ConflictError, NotFoundError, StateTransitionError
from gateway.fhir.inbound import ODS_SYSTEM, SHORT_FORM_SYSTEM, fail, identifier_value, require
from gateway.fhir.task_fields import NHS_NUMBER_SYSTEM, as_list, code_in, read_date, task_key
from gateway.lifecycle.patient_check import check_patient
from gateway.lifecycle.supply import flush_or_conflict
from gateway.store import outbox_queue, prescription_rows, repository
from gateway.store.inbound_messages import sealed_inbound
from gateway.store.sealed import message_context
from gateway.store.tables import FhirMessage, LifecycleEvent, LifecycleTask, Prescription

HOMECARE_TASK_CODE = "https://fhir.homecaregateway.uk/CodeSystem/homecare-task-code"
CLINICAL_QUERY = "clinical-query"
PRESCRIPTION_DUE = "prescription-due"
# kind → (event when raised, event when answered)
EVENTS = {
    CLINICAL_QUERY: ("query-raised", "query-answered"),
    PRESCRIPTION_DUE: ("prescription-due", "prescription-due-answered"),
}
# A next prescription is asked for while the provider holds this one, or once it ran out.
_DUE_WHEN = frozenset(
    {lifecycle.WITH_DISPENSER, lifecycle.WITH_DISPENSER_ACTIVE, lifecycle.DISPENSED, lifecycle.EXPIRED}
)
_ANSWERS = ("completed", "rejected")


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    kind: str
    key: str | None
    short_form_id: str
    trust_ods: str | None
    due_date: date | None
    nhs_number: str | None


def is_request(task: dict[str, Any]) -> bool:
    return code_in(task.get("code"), HOMECARE_TASK_CODE) in EVENTS


def read_request(task: dict[str, Any]) -> ProviderRequest:
    kind = str(code_in(task.get("code"), HOMECARE_TASK_CODE))
    short_form = identifier_value(require(task, "focus", "Task"), "Task.focus", SHORT_FORM_SYSTEM)
    trust = identifier_value(task["owner"], "Task.owner", ODS_SYSTEM) if task.get("owner") else None
    subject = task.get("for")
    nhs = identifier_value(subject, "Task.for", NHS_NUMBER_SYSTEM) if subject else None
    due = None
    if kind == CLINICAL_QUERY:
        text = task.get("description")
        if not isinstance(text, str) or not text.strip() or len(text) > 4000:
            raise fail(
                "Task.description",
                "a clinical query asks its question in Task.description",
                code="MISSING_VALUE",
                expected="a text of 1 to 4000 characters",
            )
    else:
        restriction = task.get("restriction")
        period = restriction.get("period") if isinstance(restriction, dict) else None
        if isinstance(period, dict) and period.get("end") is not None:
            due = read_date(str(period["end"])[:10], "Task.restriction.period.end")
    return ProviderRequest(kind, task_key(task), short_form, trust, due, nhs)


async def raise_request(gw: Gateway, principal: Principal, req: ProviderRequest, raw: bytes) -> tuple[str, bool]:
    """Record a provider's request; (the gateway's Task id, False when it is a resend of one already raised)."""
    require_role(principal, Role.PROVIDER, scopes=UPDATE)
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        p = await prescription_rows.find_prescription(session, req.short_form_id)
        if p is None or p.provider_ods != principal.ods:
            raise NotFoundError(f"prescription {req.short_form_id} not found")
        if req.trust_ods is not None and req.trust_ods.upper() != p.trust_ods:
            raise fail("Task.owner.identifier", "the owner is the prescription's trust", value=req.trust_ods)
        check_patient(gw, p, req.nhs_number)
        if req.key is not None:
            earlier = await prescription_rows.lifecycle_task_by_source(session, principal.ods, req.key)
            if earlier is not None:
                return earlier.id, False
        if req.kind == PRESCRIPTION_DUE and p.status not in _DUE_WHEN:
            raise StateTransitionError(
                f"prescription {p.short_form_id} is {p.status} {lifecycle.PRESCRIPTION_STATUS[p.status]}: "
                "a next prescription is asked for while the provider holds it, or once it is dispensed or expired"
            )
        task_id, message_id = str(uuid.uuid4()), str(uuid.uuid4())
        due = req.due_date or p.supply_until
        repository.save(session, sealed_inbound(gw, message_id, req.kind, p, principal.ods, p.trust_ods, raw, now))
        repository.save(
            session,
            LifecycleTask(
                id=task_id,
                prescription_id=p.id,
                kind=req.kind,
                status="requested",
                requester_ods=principal.ods,
                owner_ods=p.trust_ods,
                source_id=req.key,
                due_date=due,
                request_message_id=message_id,
                created_at=now,
                updated_at=now,
            )
        )
        if req.kind == CLINICAL_QUERY:
            detail = f"clinical query {task_id} from {principal.ods}: read it with GET /FHIR/R4/Task/{task_id}"
        else:
            detail = f"next prescription needed by {due or 'the date not given'} (request {task_id})"
        repository.save(session, _event(p, EVENTS[req.kind][0], principal.ods, message_id, detail, now))
        await audit.append(
            session, gw.clock, principal, "order.update", "prescription", p.id, "success", {"event": req.kind}
        )
        await flush_or_conflict(session, f"request {req.key}")
    return task_id, True


async def answer_request(gw: Gateway, principal: Principal, task_id: str, task: Any, raw: bytes) -> dict[str, Any]:
    """The trust's answer to a request: the Task with status completed or rejected and an output text.
    Returns the request Task as it now stands."""
    require_role(principal, Role.TRUST, scopes=WRITE)
    if not isinstance(task, dict) or task.get("resourceType") != "Task":
        raise fail("Task", "the body must be a FHIR Task", code="INVALID_RESOURCE")
    if task.get("id") not in (None, task_id):
        raise fail("Task.id", "the Task's id is the one in the URL", value=task.get("id"), expected=task_id)
    status = task.get("status")
    if status not in _ANSWERS:
        raise fail(
            "Task.status", "an answer completes or rejects the request", value=status, expected="completed or rejected"
        )
    outputs = as_list(task.get("output"))
    if not any(
        isinstance(o, dict) and isinstance(o.get("valueString"), str) and o["valueString"].strip() for o in outputs
    ):
        raise fail(
            "Task.output", "an answer gives its text", code="MISSING_VALUE", expected="an output with valueString"
        )
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        lt: LifecycleTask | None = await repository.get_by_id(session, LifecycleTask, task_id)
        p = await repository.get_by_id(session, Prescription, lt.prescription_id) if lt else None
        if lt is None or p is None or p.trust_ods != principal.ods:
            raise NotFoundError(f"Task {task_id} not found")
        if lt.status != "requested":
            raise ConflictError(f"Task {task_id} was already answered ({lt.status})")
        message_id = str(uuid.uuid4())
        repository.save(
            session, sealed_inbound(gw, message_id, f"{lt.kind}-answer", p, principal.ods, lt.requester_ods, raw, now)
        )
        lt.status, lt.answer_message_id, lt.updated_at = str(status), message_id, now
        repository.save(session, lt)
        detail = f"{status} by {principal.ods} (request {lt.id})"
        repository.save(session, _event(p, EVENTS[lt.kind][1], principal.ods, message_id, detail, now))
        await audit.append(
            session,
            gw.clock,
            principal,
            "prescription.update",
            "prescription",
            p.id,
            "success",
            {"event": f"{lt.kind}-answer"},
        )
        await repository.save_now(session)
        return await request_resource(session, gw, lt)


async def read_request_task(gw: Gateway, principal: Principal, task_id: str) -> dict[str, Any]:
    """A request as a FHIR Task (its question and any answer), for the prescription's trust or provider."""
    require_role(principal, Role.TRUST, Role.PROVIDER, Role.OPERATOR, scopes=READ)
    async with gw.sessions() as session, session.begin():
        lt: LifecycleTask | None = await repository.get_by_id(session, LifecycleTask, task_id)
        p = await repository.get_by_id(session, Prescription, lt.prescription_id) if lt else None
        if lt is None or p is None or not can_see(principal, p):
            raise NotFoundError(f"Task {task_id} not found")
        resource = await request_resource(session, gw, lt)
        await audit.append(session, gw.clock, principal, "patient-data.read", "prescription", p.id, "success")
    return resource


def can_see(principal: Principal, p: Prescription) -> bool:
    return principal.sees_trust(p.trust_ods) or (principal.role is Role.PROVIDER and p.provider_ods == principal.ods)


async def request_resource(session: Any, gw: Gateway, lt: LifecycleTask) -> dict[str, Any]:
    """The request Task as the provider sent it, with the gateway's id and status and the trust's answer."""
    messages = await outbox_queue.get_messages(session, [m for m in (lt.request_message_id, lt.answer_message_id) if m])
    request = _open(gw, messages[lt.request_message_id])
    resource: dict[str, Any] = {**request, "id": lt.id, "status": lt.status, "lastModified": lt.updated_at.isoformat()}
    resource["identifier"] = [{"system": "https://tools.ietf.org/html/rfc4122", "value": lt.id}]
    resource["owner"] = {"identifier": {"system": ODS_SYSTEM, "value": lt.owner_ods}}
    resource["requester"] = {"identifier": {"system": ODS_SYSTEM, "value": lt.requester_ods}}
    if lt.due_date is not None:
        resource["restriction"] = {"period": {"end": lt.due_date.isoformat()}}
    if lt.answer_message_id:
        answer = _open(gw, messages[lt.answer_message_id])
        resource["output"] = answer.get("output", [])
    return resource


def _open(gw: Gateway, message: FhirMessage) -> dict[str, Any]:
    body = gw.cipher.open(message.body_enc, context=message_context(message.id, message.sender_ods))
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def _event(p: Prescription, kind: str, actor: str, message_id: str, detail: str, now: Any) -> LifecycleEvent:
    return LifecycleEvent(
        prescription_id=p.id, at=now, kind=kind, actor_ods=actor, message_id=message_id, detail=detail
    )
