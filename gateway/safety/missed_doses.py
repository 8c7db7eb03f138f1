"""`POST /FHIR/R4/AdverseEvent`: a trust or a provider reports a missed or late dose (docs/patient-safety.md).

The AdverseEvent is stored sealed in `inbound_payload` before it is read, like every inbound message; then it is
checked (`missed_dose_report`), matched to a prescription the caller may see (a trust its own, a provider one
routed to it; anyone else's answers as not found) and recorded once per reporter and AdverseEvent id. Each
record says whether the at-risk list had flagged the treatment beforehand: on the list the day before the dose,
or an at-risk episode open at some time in the 14 days before.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from gateway import audit
from gateway.context import Gateway
from gateway.domain.principal import UPDATE, WRITE, Principal, Role, require_role
from gateway.errors import InputError, NotFoundError
from gateway.fhir.datatypes import uk_date
from gateway.fhir.inbound import fail
from gateway.fhir.missed_dose_report import MissedDoseReport, read_adverse_event
from gateway.lifecycle.patient_check import check_patient
from gateway.safety.at_risk import compute, end_of
from gateway.safety.supply_model import treatment_key
from gateway.store import inbound_messages, outbox_queue, prescription_rows, repository, risk_episodes
from gateway.store.inbound_messages import raw_payload
from gateway.store.supply_facts import RxFact
from gateway.store.supply_tables import MissedDose
from gateway.store.tables import LifecycleEvent, Prescription, PrescriptionItem

FLAG_WINDOW_DAYS = 14
MAX_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Recorded:
    id: str
    short_form_id: str
    created: bool  # False: this AdverseEvent was already recorded
    flagged: bool


async def report_missed_dose(gw: Gateway, principal: Principal, body: bytes) -> Recorded:
    require_role(principal, Role.TRUST, Role.PROVIDER, scopes=WRITE + UPDATE)
    payload_id = str(uuid.uuid4())
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        repository.save(
            session, raw_payload(gw, payload_id, principal.ods, "adverse-event", "application/fhir+json", body, now)
        )
    try:
        recorded = await _record(gw, principal, payload_id, body)
    except (InputError, NotFoundError) as exc:
        await _outcome(gw, payload_id, "rejected", {"error": type(exc).__name__})
        raise
    await _outcome(gw, payload_id, "accepted", {"missed_dose": recorded.id, "created": recorded.created})
    return recorded


async def _outcome(gw: Gateway, payload_id: str, outcome: str, summary: dict[str, Any]) -> None:
    async with gw.sessions() as session, session.begin():
        await inbound_messages.set_inbound_outcome(session, payload_id, outcome, json.dumps(summary))


def _parse(body: bytes) -> MissedDoseReport:
    if len(body) > MAX_BYTES:
        raise fail("AdverseEvent", "the AdverseEvent is too large", value=len(body), expected=f"at most {MAX_BYTES}")
    try:
        resource = json.loads(body)
    except ValueError as exc:
        raise fail("AdverseEvent", f"the body is not JSON: {exc}", code="INVALID_JSON") from exc
    return read_adverse_event(resource)


async def _record(gw: Gateway, principal: Principal, payload_id: str, body: bytes) -> Recorded:
    report = await asyncio.to_thread(_parse, body)
    now = gw.clock()
    if report.occurred_on > uk_date(now):
        raise fail("AdverseEvent.date", "the dose cannot be missed in the future", value=str(report.occurred_on))
    async with gw.sessions() as session:
        p = await prescription_rows.find_prescription(session, report.short_form_id)
        if p is None or not await _visible(session, principal, p):
            raise NotFoundError(f"prescription {report.short_form_id} not found")
        if report.source_id is not None:
            found = await _existing(session, principal.ods, report.source_id)
            if found is not None:
                return Recorded(found.id, p.short_form_id, False, found.flagged)
        items = await prescription_rows.prescription_items(session, p.id)
    await asyncio.to_thread(check_patient, gw, p, report.nhs_number, "AdverseEvent.subject")
    flagged = await _flagged(gw, p, items, report.occurred_on)
    dose = MissedDose(
        id=str(uuid.uuid4()),
        prescription_id=p.id,
        inbound_id=payload_id,
        reporter_ods=principal.ods,
        reporter_role=principal.role.value,
        source_id=report.source_id,
        trust_ods=p.trust_ods,
        provider_ods=p.provider_ods,
        actuality=report.actuality,
        occurred_on=report.occurred_on,
        cause=report.cause,
        seriousness=report.seriousness,
        flagged=flagged,
        recorded_at=now,
    )
    try:
        async with gw.sessions() as session, session.begin():
            repository.save(session, dose)
            repository.save(
                session,
                LifecycleEvent(
                    prescription_id=p.id,
                    at=now,
                    kind=report.event,
                    actor_ods=principal.ods,
                    detail=f"{report.actuality} {report.event} on {report.occurred_on.isoformat()}: {report.cause}"
                    + (f", {report.seriousness}" if report.seriousness else "")
                    + ("; flagged at risk beforehand" if flagged else "; not flagged at risk beforehand"),
                )
            )
            action = "prescription.update" if principal.role is Role.TRUST else "order.update"
            detail: dict[str, str | int | bool] = {"event": report.event, "cause": report.cause, "flagged": flagged}
            await audit.append(session, gw.clock, principal, action, "missed-dose", dose.id, "success", detail)
    except IntegrityError:  # the same AdverseEvent id, recorded meanwhile by a concurrent resend
        async with gw.sessions() as session:
            found = await _existing(session, principal.ods, report.source_id or "")
        if found is None:
            raise
        return Recorded(found.id, p.short_form_id, False, found.flagged)
    return Recorded(dose.id, p.short_form_id, True, flagged)


async def _visible(session: Any, principal: Principal, p: Prescription) -> bool:
    if principal.role is Role.TRUST:
        return p.trust_ods == principal.ods
    if p.provider_ods == principal.ods:
        return True
    return await outbox_queue.was_sent_to(session, p.id, principal.ods)


async def _existing(session: Any, reporter: str, source_id: str) -> MissedDose | None:
    return await risk_episodes.missed_dose_by_source(session, reporter, source_id)


async def _flagged(gw: Gateway, p: Prescription, items: list[PrescriptionItem], day: date) -> bool:
    """On the at-risk list the day before `day`, or an episode of the treatment open in the 14 days before."""
    medicine = next((i.dmd_code for i in items if i.line_no == 1), "")
    key = treatment_key(
        RxFact(p.id, p.short_form_id, p.trust_ods, p.rx_number, p.service_type, p.nhs_index, medicine, 0, p.created_at)
    )
    start = end_of(day - timedelta(days=FLAG_WINDOW_DAYS + 1))
    async with gw.sessions() as session:
        if await risk_episodes.episode_open_between(session, key, start, end_of(day - timedelta(days=1))):
            return True
    listed = await compute(gw, day - timedelta(days=1), trust_ods=p.trust_ods)
    return any(r.treatment == key for r in listed)
