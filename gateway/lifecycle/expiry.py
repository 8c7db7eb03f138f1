"""Expiry: prescriptions whose validity ended go to 0004 Expired, their open line items to 0006, and nothing more
is dispensed or delivered against them.

The rule (per line item, the prescription is valid while any line is):
- the line's review date, when the trust gave one, is the last day it may be supplied;
- else its validity starts on its first delivery date, or the day the prescription was signed (UK date), and
  lasts its authorised deliveries × days per delivery: the last day is start + N × days − 1.
A prescription expires on the first UK day after its last valid day. `expire_due` is run daily by
`hgw lifecycle expire`; running it again changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from gateway import audit
from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.domain.model import HomecarePrescription
from gateway.domain.outbox import OutboxState, check_outbox_transition
from gateway.errors import StateTransitionError
from gateway.fhir.datatypes import UK_TIME
from gateway.store import outbox_queue, prescription_rows, repository
from gateway.store.sealed import prescription_context
from gateway.store.tables import LifecycleEvent, OutboxEntry, Prescription

# Not yet final: these can expire.
EXPIRABLE = (lifecycle.TO_BE_DISPENSED, lifecycle.WITH_DISPENSER, lifecycle.WITH_DISPENSER_ACTIVE)
_PAGE = 200
EXPIRY_ACTOR = audit.SystemActor("lifecycle-expiry")


@dataclass(frozen=True, slots=True)
class Validity:
    last_day: date
    basis: str  # how the last day was found, for the timeline


@dataclass(slots=True)
class ExpiryReport:
    checked: int = 0
    expired: list[str] = field(default_factory=list)  # short-form ids
    skipped: list[str] = field(default_factory=list)  # changed meanwhile; the next run looks again


def validity(p: HomecarePrescription) -> Validity:
    """The last day any line item of `p` may be supplied (the rule in the module docstring)."""
    signed = p.signed_at.astimezone(UK_TIME).date() if p.signed_at.tzinfo else p.signed_at.date()
    ends = []
    for item in p.items:
        if item.review_date is not None:
            ends.append(Validity(item.review_date, f"line {item.line_no} review date {item.review_date}"))
            continue
        start = item.first_delivery_date or signed
        days = item.number_of_deliveries * item.days_per_delivery
        label = "first delivery" if item.first_delivery_date else "signed"
        ends.append(
            Validity(
                start + timedelta(days=days - 1),
                f"line {item.line_no}: {label} {start} + {item.number_of_deliveries} × {item.days_per_delivery} days",
            )
        )
    if not ends:
        return Validity(signed, "no line items")
    return max(ends, key=lambda v: v.last_day)


async def expire_due(gw: Gateway, now: datetime) -> ExpiryReport:
    """Expire every prescription whose validity ended before `now`'s UK date, each in its own transaction."""
    today = now.astimezone(UK_TIME).date()
    report = ExpiryReport()
    after = ""
    while True:
        async with gw.sessions() as session, session.begin():
            page = await prescription_rows.prescriptions_in_status(session, EXPIRABLE, after=after, limit=_PAGE)
            due = []
            for p in page:
                canonical = HomecarePrescription.model_validate(
                    json.loads(gw.cipher.open(p.canonical_enc, context=prescription_context(p.id, p.trust_ods)))
                )
                found = validity(canonical)
                if found.last_day < today:
                    due.append((p.id, p.status, found))
        report.checked += len(page)
        for prescription_id, status, found in due:
            await _expire(gw, prescription_id, status, found, now, report)
        if len(page) < _PAGE:
            return report
        after = page[-1].id


async def _expire(
    gw: Gateway, prescription_id: str, seen: str, found: Validity, now: datetime, report: ExpiryReport
) -> None:
    async with gw.sessions() as session, session.begin():
        p: Prescription = await repository.get_by_id(session, Prescription, prescription_id)
        if p.status != seen:
            report.skipped.append(p.short_form_id)
            return
        try:
            lifecycle.check_prescription_transition(p.status, lifecycle.EXPIRED)
        except StateTransitionError:
            report.skipped.append(p.short_form_id)
            return
        items = await prescription_rows.prescription_items(session, p.id)
        for item in items:
            if item.status in lifecycle.OPEN_ITEMS:
                lifecycle.check_item_transition(item.status, lifecycle.ITEM_EXPIRED)
                item.status = lifecycle.ITEM_EXPIRED
                repository.save(session, item)
        p.status = lifecycle.EXPIRED
        p.updated_at = now
        repository.save(session, p)
        withheld = 0
        for order in await outbox_queue.outbox_for_prescription(session, p.id):
            if order.state == OutboxState.QUEUED and await repository.apply_update(
                session, OutboxEntry, order.id, {"state": order.state},
                {"state": check_outbox_transition(order.state, OutboxState.CANCELLED, entry=order.message_id)},
            ):
                withheld += 1
        detail = f"validity ended {found.last_day} ({found.basis})"
        if withheld:
            detail += "; the order was withdrawn before the provider received it"
        repository.save(
            session,
            LifecycleEvent(prescription_id=p.id, at=now, kind="expired", status=p.status, actor_ods=None, detail=detail)
        )
        await audit.append(
            session,
            gw.clock,
            EXPIRY_ACTOR,
            "prescription.update",
            "prescription",
            p.id,
            "success",
            {"event": "expired"},
        )
        report.expired.append(p.short_form_id)
