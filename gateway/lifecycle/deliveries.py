"""Delivery status Tasks from providers: scheduled, dispatched, delivered, failed (with a reason attributable to the
patient, the provider or the trust), returned, and re-arranged after a failure or a return.

Each delivered delivery counts towards the prescription's authorised deliveries: the prescription is settled again
(`lifecycle.settle`), so the first delivery makes it 0003 and the last completes it (0006).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from gateway import audit
from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.domain.principal import UPDATE, Principal, Role, require_role, require_same_tenant
from gateway.errors import NotFoundError, StateTransitionError
from gateway.fhir.inbound import ODS_SYSTEM, SHORT_FORM_SYSTEM, fail, identifier_value, require
from gateway.fhir.task_fields import (
    NHS_NUMBER_SYSTEM,
    TASK_INPUT_SYSTEM,
    as_task,
    code_in,
    codings,
    inputs,
    read_date,
    read_datetime,
)
from gateway.lifecycle.patient_check import check_patient
from gateway.lifecycle.supply import Change, active_lines, resettle
from gateway.store import prescription_rows, repository
from gateway.store.inbound_messages import sealed_inbound
from gateway.store.supply_history import delivery_change
from gateway.store.tables import Delivery, LifecycleEvent, Prescription

DELIVERY_STATUS_SYSTEM = "https://fhir.homecaregateway.uk/CodeSystem/homecare-delivery-status"
FAILED_REASON_SYSTEM = "https://fhir.homecaregateway.uk/CodeSystem/homecare-failed-delivery-reason"

__all__ = ["DELIVERY_STATUS_SYSTEM", "NHS_NUMBER_SYSTEM", "TASK_INPUT_SYSTEM", "read_delivery_task"]


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    task_id: str | None
    short_form_id: str
    owner_ods: str
    nhs_number: str | None
    state: str
    number: int
    scheduled_date: date | None
    window: str | None
    occurred_at: datetime | None
    failure_reason: str | None  # a homecare-failed-delivery-reason code
    recipient_given: bool = False


def read_delivery_task(task: Any) -> DeliveryReport:
    """A delivery status Task as a DeliveryReport, or a located InputError."""
    task = as_task(task)
    require(task, "businessStatus", "Task")
    state = code_in(task["businessStatus"], DELIVERY_STATUS_SYSTEM)
    if state not in lifecycle.DELIVERY_STATES:
        raise fail(
            "Task.businessStatus.coding",
            "businessStatus must carry a homecare delivery status",
            value=state,
            expected=f"{DELIVERY_STATUS_SYSTEM}: {', '.join(lifecycle.DELIVERY_STATES)}",
        )
    short_form = identifier_value(require(task, "focus", "Task"), "Task.focus", SHORT_FORM_SYSTEM)
    owner = identifier_value(require(task, "owner", "Task"), "Task.owner", ODS_SYSTEM)
    subject = task.get("for")
    nhs = identifier_value(subject, "Task.for", NHS_NUMBER_SYSTEM) if subject else None
    given = inputs(task, TASK_INPUT_SYSTEM)
    if "delivery-number" not in given:
        raise fail(
            "Task.input",
            "the delivery number is required",
            code="MISSING_VALUE",
            expected=f"an input of type {TASK_INPUT_SYSTEM}#delivery-number with valueInteger",
        )
    index, number_input = given["delivery-number"]
    number = number_input.get("valueInteger")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise fail(
            f"Task.input[{index}].valueInteger",
            "the delivery number must be a positive integer",
            value=number,
            expected="an integer >= 1",
        )
    scheduled = None
    if "scheduled-date" in given:
        index, item = given["scheduled-date"]
        scheduled = read_date(item.get("valueDate"), f"Task.input[{index}].valueDate")
    occurred = None
    period = task.get("executionPeriod")
    if isinstance(period, dict) and period.get("end"):
        occurred = read_datetime(period["end"], "Task.executionPeriod.end")
    window = None
    if "delivery-window" in given:
        index, item = given["delivery-window"]
        window = item.get("valueString")
        if not isinstance(window, str) or not 0 < len(window) <= 40:
            raise fail(
                f"Task.input[{index}].valueString", "the window is a short text", value=window, expected="08:00-12:00"
            )
    reason = _failure_reason(given)
    if state == "failed" and reason is None:
        raise fail(
            "Task.input",
            "a failed delivery says why",
            code="MISSING_VALUE",
            expected=f"an input of type {TASK_INPUT_SYSTEM}#failure-reason coded from {FAILED_REASON_SYSTEM}",
        )
    task_id = task.get("id") if isinstance(task.get("id"), str) else None
    return DeliveryReport(
        task_id, short_form, owner, nhs, state, number, scheduled, window, occurred, reason, "recipient" in given
    )


def _failure_reason(given: dict[str, tuple[int, dict[str, Any]]]) -> str | None:
    if "failure-reason" not in given:
        return None
    index, item = given["failure-reason"]
    concept = item.get("valueCodeableConcept")
    # A plain code in valueString is read too: earlier providers sent the reason that way.
    code = code_in(concept, FAILED_REASON_SYSTEM) if concept is not None else item.get("valueString")
    if code not in lifecycle.FAILED_DELIVERY_REASONS:
        path = f"Task.input[{index}].valueCodeableConcept" if concept is not None else f"Task.input[{index}]"
        seen = code if code is not None else ", ".join(str(c.get("code")) for c in codings(concept)) or None
        raise fail(
            path,
            "the failure reason must be a homecare-failed-delivery-reason code",
            value=seen,
            expected=f"{FAILED_REASON_SYSTEM}: {', '.join(lifecycle.FAILED_DELIVERY_REASONS)}",
        )
    return str(code)


def describe_failure(code: str) -> str:
    display, party = lifecycle.FAILED_DELIVERY_REASONS[code]
    if party is lifecycle.Party.UNATTRIBUTED:
        return f"{code} {display}, attributable to nobody named"
    return f"{code} {display}, attributable to the {party.value}"


def resent(delivery: Delivery, report: DeliveryReport) -> bool:
    """The Task that last set this delivery, sent again: same Task id, same state."""
    return (
        report.task_id is not None
        and delivery.task_id == report.task_id
        and delivery.state == report.state
    )


async def record_delivery_status(
    gw: Gateway, principal: Principal, report: DeliveryReport, raw: bytes | None = None
) -> tuple[Delivery, bool]:
    """Apply a delivery status to the prescription's delivery number `report.number`; `raw`, the Task as sent,
    is kept sealed (it may name who received the delivery). The Task that last set the delivery, sent again
    (`resent`), changes nothing. Returns the delivery and whether this call changed it."""
    require_role(principal, Role.PROVIDER, scopes=UPDATE)
    require_same_tenant(principal, report.owner_ods, "Task.owner")
    provider_ods = principal.ods
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        p = await prescription_rows.find_prescription(session, report.short_form_id)
        if p is None or p.provider_ods != provider_ods:
            raise NotFoundError(f"prescription {report.short_form_id} not found")
        check_patient(gw, p, report.nhs_number)
        if report.number > p.deliveries_authorised:
            raise fail(
                "Task.input",
                f"the prescription authorises {p.deliveries_authorised} deliveries",
                value=report.number,
                expected=f"1 to {p.deliveries_authorised}",
            )
        delivery = await prescription_rows.find_delivery(session, p.id, report.number)
        if delivery is not None and resent(delivery, report):
            return delivery, False  # the same Task again (a retry whose first answer was lost): no change
        previous = delivery.state if delivery else None
        _check_prescription_allows(p, previous, report.state)
        lifecycle.check_delivery_transition(previous, report.state)
        if delivery is None:
            delivery = Delivery(prescription_id=p.id, number=report.number, state=report.state, updated_at=now)
        delivery.state = report.state
        delivery.updated_at = now
        delivery.task_id = report.task_id
        if report.scheduled_date:
            delivery.scheduled_date = report.scheduled_date
        if report.window:
            delivery.window = report.window
        if report.failure_reason:
            delivery.failure_reason = report.failure_reason
        change = None
        days = None
        if report.state == "delivered":
            delivered_at = report.occurred_at or now
            delivery.delivered_at = delivered_at
            p.deliveries_made += 1
            items = await prescription_rows.prescription_items(session, p.id)
            days = max((i.days_per_delivery for i in items), default=0)
            p.supply_until = delivered_at.date() + timedelta(days=days)
            if p.status in lifecycle.SETTLING:
                records = await prescription_rows.dispense_records(session, p.id)
                change = await resettle(session, p, active_lines(records))
        p.updated_at = now
        repository.save(session, delivery)
        repository.save(session, p)
        repository.save(
            session,
            delivery_change(
                p.id,
                report.number,
                report.state,
                scheduled=delivery.scheduled_date,
                delivered_at=delivery.delivered_at if report.state == "delivered" else None,
                days=days,
                provider_ods=provider_ods,
                now=now,
            )
        )
        await audit.append(
            session,
            gw.clock,
            principal,
            "order.update",
            "prescription",
            p.id,
            "success",
            {"delivery": report.number, "state": report.state},
        )
        message_id = None
        if raw is not None:
            message_id = str(uuid.uuid4())
            repository.save(
                session, sealed_inbound(gw, message_id, "delivery-status", p, provider_ods, p.trust_ods, raw, now)
            )
        repository.save(
            session,
            LifecycleEvent(
                prescription_id=p.id,
                at=now,
                kind=f"delivery-{report.state}",
                status=p.status,
                actor_ods=provider_ods,
                message_id=message_id,
                detail=_detail(p, report, previous, change),
            )
        )
        await repository.save_now(session)
        return delivery, True


def _check_prescription_allows(p: Prescription, previous: str | None, target: str) -> None:
    if p.status == lifecycle.TO_BE_DISPENSED:
        raise StateTransitionError(
            f"prescription {p.short_form_id} is {p.status} {lifecycle.PRESCRIPTION_STATUS[p.status]}: deliveries "
            "are reported once the provider has acknowledged the order"
        )
    if lifecycle.is_final(p.status) and (previous, target) not in lifecycle.CONCLUDING_DELIVERY:
        raise StateTransitionError(
            f"prescription {p.short_form_id} is {p.status} {lifecycle.PRESCRIPTION_STATUS[p.status]}: only a "
            "delivery already dispatched may still be reported"
        )


def _detail(p: Prescription, report: DeliveryReport, previous: str | None, change: Change | None) -> str:
    detail = f"delivery {report.number} of {p.deliveries_authorised}: {report.state}"
    if report.state == "scheduled" and previous in ("failed", "returned"):
        detail += f", re-arranged after it {previous}"
    if report.scheduled_date:
        detail += f" for {report.scheduled_date.isoformat()}"
    if report.window:
        detail += f" {report.window}"
    if report.state in ("failed", "returned") and report.failure_reason:
        detail += f" ({describe_failure(report.failure_reason)})"
    if report.state == "delivered":
        detail += f"; {p.deliveries_made} of {p.deliveries_authorised} made, supply until {p.supply_until}"
        if report.recipient_given:
            detail += "; recipient recorded"
    if change is not None and change.describe():
        detail += f"; {change.describe()}"
    return detail
