"""EPS return: a provider hands back a prescription it acknowledged but has not started (0002 → 0001, its items
0008 → 0007). It no longer holds the order: the routing rules choose again without the providers that returned
it (gateway/delivery/rerouting.py), and the prescription goes to the next provider or is held, unrouted, with the
reason. The trust sees both on the timeline and can still cancel or amend."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from gateway import audit
from gateway.context import Gateway
from gateway.delivery.rerouting import reroute_returned
from gateway.domain import states as lifecycle
from gateway.domain.outbox import OutboxState, check_outbox_transition
from gateway.domain.principal import UPDATE, Principal, Role, require_role, require_same_tenant
from gateway.errors import NotFoundError, StateTransitionError
from gateway.fhir.inbound import ODS_SYSTEM, SHORT_FORM_SYSTEM, fail, identifier_value, require
from gateway.fhir.task_fields import NHS_NUMBER_SYSTEM, code_in, display_of
from gateway.lifecycle.patient_check import check_patient
from gateway.lifecycle.withdraw import TASK_CODE_SYSTEM
from gateway.store import outbox_queue, prescription_rows, repository
from gateway.store.inbound_messages import sealed_inbound
from gateway.store.tables import LifecycleEvent, OutboxEntry

RETURN_REASON_SYSTEM = "https://fhir.nhs.uk/CodeSystem/EPS-task-dispense-return-status-reason"


@dataclass(frozen=True, slots=True)
class Return:
    short_form_id: str
    owner_ods: str | None
    reason: str
    nhs_number: str | None


def is_return(task: dict[str, Any]) -> bool:
    return code_in(task.get("code"), TASK_CODE_SYSTEM) == "fulfill" and task.get("status") == "rejected"


def read_return(task: dict[str, Any]) -> Return:
    short_form = identifier_value(require(task, "groupIdentifier", "Task"), "Task.groupIdentifier", SHORT_FORM_SYSTEM)
    owner = identifier_value(task["owner"], "Task.owner", ODS_SYSTEM) if task.get("owner") else None
    code = code_in(task.get("statusReason"), RETURN_REASON_SYSTEM)
    if code is None:
        raise fail(
            "Task.statusReason",
            "a return says why",
            code="MISSING_VALUE",
            expected=f"a coding from {RETURN_REASON_SYSTEM}",
        )
    display = display_of(task.get("statusReason"), RETURN_REASON_SYSTEM)
    subject = task.get("for")
    nhs = identifier_value(subject, "Task.for", NHS_NUMBER_SYSTEM) if subject else None
    return Return(short_form, owner, f"{code[:16]} {display[:80]}" if display else code[:16], nhs)


async def return_prescription(gw: Gateway, principal: Principal, r: Return, raw: bytes) -> bool:
    """Apply a return; False when the prescription was already returned by this provider."""
    require_role(principal, Role.PROVIDER, scopes=UPDATE)
    if r.owner_ods is not None:
        require_same_tenant(principal, r.owner_ods, "Task.owner")
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        p = await prescription_rows.find_prescription(session, r.short_form_id)
        events = await prescription_rows.prescription_events(session, p.id) if p is not None else []
        returned_by = frozenset(e.actor_ods for e in events if e.kind == "returned" and e.actor_ods)
        if p is None or (p.provider_ods != principal.ods and principal.ods not in returned_by):
            raise NotFoundError(f"prescription {r.short_form_id} not found")
        check_patient(gw, p, r.nhs_number)
        if p.provider_ods != principal.ods:
            return False  # this provider returned it already; it has moved on (held, or with another provider)
        orders = [
            o for o in await outbox_queue.outbox_for_prescription(session, p.id) if o.provider_ods == principal.ods
        ]
        if p.status == lifecycle.TO_BE_DISPENSED and orders and orders[-1].state == OutboxState.REJECTED:
            return False
        if p.status != lifecycle.WITH_DISPENSER:
            raise StateTransitionError(
                f"prescription {p.short_form_id} is {p.status} {lifecycle.PRESCRIPTION_STATUS[p.status]}: only an "
                "order the provider acknowledged and has not started to supply can be returned"
            )
        lifecycle.check_prescription_transition(p.status, lifecycle.TO_BE_DISPENSED)
        items = await prescription_rows.prescription_items(session, p.id)
        for item in items:
            lifecycle.check_item_transition(item.status, lifecycle.ITEM_TO_BE_DISPENSED)
        for item in items:
            item.status = lifecycle.ITEM_TO_BE_DISPENSED
            repository.save(session, item)
        p.status = lifecycle.TO_BE_DISPENSED
        p.updated_at = now
        repository.save(session, p)
        for order in orders:
            if order.state == OutboxState.ACKNOWLEDGED:
                rejected = check_outbox_transition(order.state, OutboxState.REJECTED, entry=order.message_id)
                await repository.apply_update(
                    session, OutboxEntry, order.id, {"state": order.state}, {"state": rejected}
                )
        message_id = str(uuid.uuid4())
        repository.save(
            session, sealed_inbound(gw, message_id, "dispense-return", p, principal.ods, p.trust_ods, raw, now)
        )
        why = f"returned by {principal.ods} ({r.reason})"
        repository.save(
            session,
            LifecycleEvent(
                prescription_id=p.id,
                at=now,
                kind="returned",
                status=p.status,
                actor_ods=principal.ods,
                message_id=message_id,
                detail=f"{why}: routed again without {', '.join(sorted(returned_by | {principal.ods}))}",
            )
        )
        await repository.save_now(session)  # the returned event comes before what re-routing records
        routed = await reroute_returned(session, gw, p, returned_by | {principal.ods}, why, now)
        await audit.append(
            session,
            gw.clock,
            principal,
            "order.update",
            "prescription",
            p.id,
            "success",
            {"event": "dispense-return", "rerouted_to": routed.provider_ods or "held"},
        )
    if routed.provider_ods is not None:
        gw.outbox_signal.notify([routed.provider_ods])
    return True
