"""One message as operators see it: raw input, FHIR bundle, delivery attempts and the prescription's timeline,
with patient data masked unless an auditor unmasks it with a reason (audited with who, what and why).

Shared by the console page, the JSON operator API (always masked) and `hgw messages show`.
"""

from __future__ import annotations

import json
from typing import Any

from gateway import audit
from gateway.budget import offload
from gateway.context import Gateway
from gateway.delivery import replay as replay_service
from gateway.domain import states as lifecycle
from gateway.domain.model import HomecarePrescription
from gateway.errors import InputError, Issue, Location, NotFoundError
from gateway.fhir.serialise import dumps_bundle, loads_bundle
from gateway.lifecycle.prescription_view import event_json
from gateway.security.masking import UNMASK_REASONS, mask_text, patient_values, patient_view
from gateway.security.operators import OpsActor, Permission, can, require_permission
from gateway.store import console as store
from gateway.store import outbox_queue, prescription_rows, repository
from gateway.store.sealed import inbound_context, message_context, prescription_context
from gateway.store.tables import FhirMessage, InboundPayload, Prescription


async def message_detail(
    gw: Gateway, actor: OpsActor, message_id: str, *, unmask_reason: str | None = None
) -> dict[str, Any]:
    """A message with its raw input, FHIR bundle, delivery attempts and the prescription's timeline.

    Patient data is masked unless `unmask_reason` is given by a role that may unmask; that unmask is audited
    with who, what and why. Every view is audited as a read."""
    require_permission(actor, Permission.VIEW)
    if unmask_reason is not None:
        require_permission(actor, Permission.UNMASK)
        if unmask_reason not in UNMASK_REASONS:
            raise InputError(
                [
                    Issue(
                        "INVALID_VALUE",
                        "unmasking needs one of the listed reasons",
                        Location(column="reason"),
                        expected=", ".join(UNMASK_REASONS),
                    )
                ]
            )
    unmasked = unmask_reason is not None
    async with gw.sessions() as session, session.begin():
        entry = await outbox_queue.outbox_by_message(session, message_id.strip().lower())
        if entry is None or entry.id is None:
            raise NotFoundError(f"message {message_id} not found")
        message: FhirMessage | None = await repository.get_by_id(session, FhirMessage, entry.message_id)
        rx: Prescription | None = await repository.get_by_id(session, Prescription, entry.prescription_id)
        if message is None or rx is None:
            raise NotFoundError(f"message {message_id} not found")
        attempts = await outbox_queue.delivery_attempts(session, entry.id)
        events = await prescription_rows.prescription_events(session, rx.id)
        inbound = await store.get_inbound(session, rx.inbound_id)
        # Masking hides every patient of the raw payload (the file may hold others): read them only to mask.
        siblings = [] if unmasked else await store.payload_prescriptions(session, rx.inbound_id)
        if unmasked:
            await audit.append(
                session,
                gw.clock,
                actor,
                "patient-data.unmask",
                "prescription",
                rx.id,
                "success",
                {"reason": unmask_reason or "", "message": entry.message_id},
            )
        else:
            await audit.append(session, gw.clock, actor, "patient-data.read", "message", entry.message_id, "success")
    # Decrypting every sibling, reading the bundle and masking are CPU work on up to 5,000 patients: off the loop.
    canonical, bundle_text, raw_text = await offload(_texts, gw, rx, siblings, message, inbound, masked=not unmasked)
    return {
        "message_id": entry.message_id,
        "event": message.event,
        "state": entry.state,
        "provider": entry.provider_ods,
        "attempts": entry.attempts,
        "last_error": entry.last_error,
        "created_at": entry.created_at.isoformat(),
        "available_at": entry.available_at.isoformat(),
        "replayable": entry.state in replay_service.REPLAYABLE,
        "masked": not unmasked,
        "can_unmask": can(actor, Permission.UNMASK),
        "prescription": {
            "id": rx.id,
            "short_form_id": rx.short_form_id,
            "trust": rx.trust_ods,
            "rx_number": rx.rx_number,
            "rx_version": rx.rx_version,
            "status": {"code": rx.status, "display": lifecycle.PRESCRIPTION_STATUS.get(rx.status, "?")},
        },
        "patient": patient_view(canonical.patient if canonical else None, unmasked=unmasked).as_json(),
        "raw_input": {
            "format": inbound.format if inbound else None,
            "content_type": inbound.content_type if inbound else None,
            "received_at": inbound.received_at.isoformat() if inbound else None,
            "text": raw_text,
        },
        "bundle": bundle_text,
        "delivery_attempts": [
            {
                "at": a.at.isoformat(),
                "kind": a.kind,
                "outcome": a.outcome,
                "lease_token": a.lease_token,
                "request": f"{message.event} bundle {entry.message_id} (above)" if a.kind == "push" else None,
                "status_code": a.status_code,
                "response": a.response_excerpt,
                "detail": a.detail,
            }
            for a in attempts
        ],
        "timeline": [event_json(e) for e in events],
    }


def _texts(
    gw: Gateway,
    rx: Prescription,
    siblings: list[Prescription],
    message: FhirMessage,
    inbound: InboundPayload | None,
    *,
    masked: bool,
) -> tuple[HomecarePrescription | None, str, str | None]:
    """The prescription's canonical form, and the bundle and raw payload as text: masked of every patient of the
    payload (`siblings`) unless unmasked. Linear in the payload and its patients (gateway/security/masking.py)."""
    canonical = _canonical(gw, rx)
    values: set[str] = set()
    for p in siblings:
        other = canonical if p.id == rx.id else _canonical(gw, p)
        if other is not None and other.patient is not None:
            values |= patient_values(other.patient)
    bundle_raw = gw.cipher.open(message.body_enc, context=message_context(message.id, message.sender_ods))
    bundle_text = dumps_bundle(loads_bundle(bundle_raw), indent=2).decode("utf-8")
    raw_text = None
    if inbound is not None:
        raw = gw.cipher.open(inbound.body_enc, context=inbound_context(inbound.id, inbound.tenant_ods))
        raw_text = raw.decode("utf-8", errors="replace")
    if masked:
        bundle_text = mask_text(bundle_text, values)
        raw_text = mask_text(raw_text, values) if raw_text is not None else None
    return canonical, bundle_text, raw_text


def _canonical(gw: Gateway, rx: Prescription) -> HomecarePrescription | None:
    raw = gw.cipher.open(rx.canonical_enc, context=prescription_context(rx.id, rx.trust_ods))
    try:
        return HomecarePrescription.model_validate(json.loads(raw))
    except ValueError:
        return None
