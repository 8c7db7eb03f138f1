"""Delivery status Tasks from providers: scheduled, dispatched, delivered, failed, returned."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from gateway import audit, lifecycle
from gateway.errors import NotFoundError
from gateway.fhir.inbound import ODS_SYSTEM, SHORT_FORM_SYSTEM, fail, identifier_value, require
from gateway.security.principal import Principal, Role, require_role, require_same_tenant
from gateway.services.context import Gateway
from gateway.store import repository
from gateway.store.sealed import prescription_context
from gateway.store.tables import Delivery, LifecycleEvent

DELIVERY_STATUS_SYSTEM = "https://fhir.homecaregateway.uk/CodeSystem/homecare-delivery-status"
TASK_INPUT_SYSTEM = "https://fhir.homecaregateway.uk/CodeSystem/homecare-task-input"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


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
    note: str | None


def read_delivery_task(task: Any) -> DeliveryReport:
    """A delivery status Task as a DeliveryReport, or a located InputError."""
    if not isinstance(task, dict) or task.get("resourceType") != "Task":
        raise fail("Task", "the body must be a FHIR Task", code="INVALID_RESOURCE")
    codings = require(task, "businessStatus", "Task").get("coding", [])
    state = next((c.get("code") for c in codings if c.get("system") == DELIVERY_STATUS_SYSTEM), None)
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
    inputs: dict[str, Any] = {}
    for i, item in enumerate(task.get("input", [])):
        code = next(
            (c.get("code") for c in item.get("type", {}).get("coding", []) if c.get("system") == TASK_INPUT_SYSTEM),
            None,
        )
        if code:
            inputs[code] = (i, item)
    if "delivery-number" not in inputs:
        raise fail(
            "Task.input",
            "the delivery number is required",
            code="MISSING_VALUE",
            expected=f"an input of type {TASK_INPUT_SYSTEM}#delivery-number with valueInteger",
        )
    index, number_input = inputs["delivery-number"]
    number = number_input.get("valueInteger")
    if not isinstance(number, int) or number < 1:
        raise fail(
            f"Task.input[{index}].valueInteger",
            "the delivery number must be a positive integer",
            value=number,
            expected="an integer >= 1",
        )
    scheduled = None
    if "scheduled-date" in inputs:
        index, item = inputs["scheduled-date"]
        try:
            scheduled = date.fromisoformat(str(item.get("valueDate")))
        except ValueError as exc:
            raise fail(
                f"Task.input[{index}].valueDate", "not a date", value=item.get("valueDate"), expected="YYYY-MM-DD"
            ) from exc
    occurred = None
    if isinstance(task.get("executionPeriod"), dict) and task["executionPeriod"].get("end"):
        try:
            occurred = datetime.fromisoformat(str(task["executionPeriod"]["end"]))
        except ValueError as exc:
            raise fail(
                "Task.executionPeriod.end",
                "not a dateTime",
                value=task["executionPeriod"]["end"],
                expected="an ISO 8601 dateTime with offset",
            ) from exc
    window = inputs["delivery-window"][1].get("valueString") if "delivery-window" in inputs else None
    note = inputs["failure-reason"][1].get("valueString") if "failure-reason" in inputs else None
    task_id = task.get("id") if isinstance(task.get("id"), str) else None
    return DeliveryReport(task_id, short_form, owner, nhs, state, number, scheduled, window, occurred, note)


async def record_delivery_status(gw: Gateway, principal: Principal, report: DeliveryReport) -> Delivery:
    """Apply a delivery status to the prescription's delivery number `report.number`."""
    require_role(principal, Role.PROVIDER)
    require_same_tenant(principal, report.owner_ods, "Task.owner")
    provider_ods = principal.ods
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        p = await repository.find_prescription(session, report.short_form_id)
        if p is None or p.provider_ods != provider_ods:
            raise NotFoundError(f"prescription {report.short_form_id} not found")
        if report.nhs_number is not None:
            canonical = json.loads(gw.cipher.open(p.canonical_enc, context=prescription_context(p.id, p.trust_ods)))
            if canonical["patient"]["nhs_number"] != report.nhs_number.replace(" ", ""):
                raise fail(
                    "Task.for.identifier.value",
                    "the NHS number is not the prescription's patient",
                    code="PATIENT_MISMATCH",
                )
        if report.number > p.deliveries_authorised:
            raise fail(
                "Task.input",
                f"the prescription authorises {p.deliveries_authorised} deliveries",
                value=report.number,
                expected=f"1 to {p.deliveries_authorised}",
            )
        delivery = await repository.find_delivery(session, p.id, report.number)
        lifecycle.check_delivery_transition(delivery.state if delivery else None, report.state)
        if delivery is None:
            delivery = Delivery(prescription_id=p.id, number=report.number, state=report.state, updated_at=now)
        delivery.state = report.state
        delivery.updated_at = now
        delivery.task_id = report.task_id
        if report.scheduled_date:
            delivery.scheduled_date = report.scheduled_date
        if report.window:
            delivery.window = report.window
        if report.state == "delivered":
            delivered_at = report.occurred_at or now
            delivery.delivered_at = delivered_at
            p.deliveries_made += 1
            days = max((i.days_per_delivery for i in await repository.prescription_items(session, p.id)), default=0)
            p.supply_until = delivered_at.date() + timedelta(days=days)
        p.updated_at = now
        session.add(delivery)
        session.add(p)
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
        detail = f"delivery {report.number} of {p.deliveries_authorised}: {report.state}"
        if report.scheduled_date:
            detail += f" for {report.scheduled_date.isoformat()}"
        if report.note:
            detail += f" ({report.note})"
        session.add(
            LifecycleEvent(
                prescription_id=p.id, at=now, kind=f"delivery-{report.state}", actor_ods=provider_ods, detail=detail
            )
        )
        await session.flush()
        return delivery
