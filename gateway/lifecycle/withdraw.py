"""EPS dispense withdrawal: a provider's `abort` Task takes back its latest dispense notification, whose effect on
the line items and the prescription no longer counts (a completed prescription goes back to 0003 or 0002)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from gateway import audit
from gateway.context import Gateway
from gateway.domain.principal import UPDATE, Principal, Role, require_role, require_same_tenant
from gateway.errors import NotFoundError
from gateway.fhir.inbound import ODS_SYSTEM, SHORT_FORM_SYSTEM, fail, identifier_value, require
from gateway.fhir.task_fields import NHS_NUMBER_SYSTEM, code_in, display_of, identifier_of, task_key
from gateway.lifecycle.dispensing import latest_named
from gateway.lifecycle.patient_check import check_patient
from gateway.lifecycle.supply import active_lines, flush_or_conflict, resettle
from gateway.store import prescription_rows, repository
from gateway.store.inbound_messages import sealed_inbound
from gateway.store.tables import LifecycleEvent

TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
WITHDRAW_REASON_SYSTEM = "https://fhir.nhs.uk/CodeSystem/EPS-task-dispense-withdraw-reason"


@dataclass(frozen=True, slots=True)
class Withdrawal:
    key: str
    short_form_id: str
    owner_ods: str
    notification: str | None  # the notification's MessageHeader id, Bundle.id or Bundle.identifier
    reason: str
    nhs_number: str | None


def is_withdrawal(task: dict[str, Any]) -> bool:
    return code_in(task.get("code"), TASK_CODE_SYSTEM) == "abort"


def read_withdrawal(task: dict[str, Any]) -> Withdrawal:
    """An EPS withdraw Task: groupIdentifier (the prescription), focus (the notification), statusReason, owner."""
    key = task_key(task)
    if key is None:
        raise fail("Task.identifier", "a withdraw Task is identified", code="MISSING_VALUE", expected="an identifier")
    short_form = identifier_value(require(task, "groupIdentifier", "Task"), "Task.groupIdentifier", SHORT_FORM_SYSTEM)
    owner = identifier_value(require(task, "owner", "Task"), "Task.owner", ODS_SYSTEM)
    code = code_in(task.get("statusReason"), WITHDRAW_REASON_SYSTEM)
    if code is None:
        raise fail(
            "Task.statusReason",
            "a withdrawal says why",
            code="MISSING_VALUE",
            expected=f"a coding from {WITHDRAW_REASON_SYSTEM}",
        )
    display = display_of(task.get("statusReason"), WITHDRAW_REASON_SYSTEM)
    reason = f"{code[:16]} {display[:80]}" if display else code[:16]
    subject = task.get("for")
    nhs = identifier_value(subject, "Task.for", NHS_NUMBER_SYSTEM) if subject else None
    return Withdrawal(key, short_form, owner, identifier_of(task.get("focus")), reason, nhs)


async def withdraw_dispense(gw: Gateway, principal: Principal, w: Withdrawal, raw: bytes) -> tuple[bool, str]:
    """Withdraw the prescription's latest dispense notification. Returns (applied, the notification's id);
    applied is False for a resend of a withdrawal already made."""
    require_role(principal, Role.PROVIDER, scopes=UPDATE)
    require_same_tenant(principal, w.owner_ods, "Task.owner")
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        p = await prescription_rows.find_prescription(session, w.short_form_id)
        if p is None or p.provider_ods != principal.ods:
            raise NotFoundError(f"prescription {w.short_form_id} not found")
        check_patient(gw, p, w.nhs_number)
        records = await prescription_rows.dispense_records(session, p.id)
        done = next((r for r in records if r.state == "withdrawn" and r.ended_by == w.key), None)
        if done is not None:
            return False, done.id
        target = latest_named(records, w.notification, "withdraw")
        change = await resettle(session, p, active_lines([r for r in records if r is not target]), correction=True)
        target.state, target.ended_by, target.ended_at = "withdrawn", w.key, now
        p.updated_at = now
        repository.save(session, target)
        repository.save(session, p)
        message_id = str(uuid.uuid4())
        repository.save(
            session, sealed_inbound(gw, message_id, "dispense-withdraw", p, principal.ods, p.trust_ods, raw, now)
        )
        detail = f"dispense notification {target.id} withdrawn ({w.reason})"
        repository.save(
            session,
            LifecycleEvent(
                prescription_id=p.id,
                at=now,
                kind="dispense-withdrawn",
                status=p.status,
                actor_ods=principal.ods,
                message_id=message_id,
                detail=f"{detail}; {change.describe()}" if change.describe() else detail,
            )
        )
        await audit.append(
            session,
            gw.clock,
            principal,
            "order.update",
            "message",
            target.id,
            "success",
            {"event": "dispense-withdraw"},
        )
        await flush_or_conflict(session, f"prescription {p.short_form_id}")
        return True, target.id
