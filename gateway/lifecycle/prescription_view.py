"""The trust's view of one prescription: status, items, deliveries and the whole timeline.

The same reading serves the API (`GET /api/v1/prescriptions/{id}`) and the console's prescription page: its
trust, the provider it is routed to and the gateway's operators may read it; anyone else is answered exactly as if
it did not exist. Every read is audited (`patient-data.read`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway import audit
from gateway.audit.actor import OperatorActor
from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.domain.principal import READ, Principal, Role, require_role
from gateway.errors import NotFoundError
from gateway.security.operators import Permission, require_permission
from gateway.store import outbox_queue, prescription_rows
from gateway.store.tables import Delivery, LifecycleEvent, OutboxEntry, Prescription, PrescriptionItem

Reader = Principal | OperatorActor


@dataclass(frozen=True, slots=True)
class PrescriptionRecord:
    """One prescription as read for a permitted reader: the row and everything that happened to it."""

    prescription: Prescription
    items: list[PrescriptionItem]
    deliveries: list[Delivery]
    events: list[LifecycleEvent]
    outbox: list[OutboxEntry]
    # Every part of the trust's prescription, this one included, when it went to EPS as several (else empty).
    parts: list[Prescription] = field(default_factory=list)


def require_reader(reader: Reader) -> None:
    """ForbiddenError unless `reader` may read prescriptions at all: a trust, a provider or an operator client
    with the read scope; a console user of an organisation; a gateway operator with the view permission."""
    if isinstance(reader, Principal):
        require_role(reader, Role.TRUST, Role.PROVIDER, Role.OPERATOR, scopes=READ)
    elif reader.organisation_ods is None:
        require_permission(reader, Permission.VIEW)


def sees(reader: Reader, p: Prescription) -> bool:
    """Whether `reader` may read `p`: its trust's, the provider's it is routed to, or an operator."""
    if isinstance(reader, Principal):
        return reader.sees_trust(p.trust_ods) or (reader.role is Role.PROVIDER and p.provider_ods == reader.ods)
    if reader.organisation_ods is None:
        return True
    if reader.organisation_kind == "trust":
        return p.trust_ods == reader.organisation_ods
    return p.provider_ods == reader.organisation_ods


async def read_prescription(gw: Gateway, reader: Reader, any_id: str) -> PrescriptionRecord:
    """A prescription by long-form or short-form id, with its timeline, for a reader who may see it (audited).
    Anyone else's prescription answers exactly as one that does not exist."""
    require_reader(reader)
    async with gw.sessions() as session, session.begin():
        p = await prescription_rows.find_prescription(session, any_id) if len(any_id) <= 64 else None
        if p is None or not sees(reader, p):
            raise NotFoundError(f"prescription {any_id[:64]} not found")
        record = PrescriptionRecord(
            p,
            await prescription_rows.prescription_items(session, p.id),
            await prescription_rows.prescription_deliveries(session, p.id),
            await prescription_rows.prescription_events(session, p.id),
            await outbox_queue.outbox_for_prescription(session, p.id),
            await prescription_rows.prescription_parts(session, p) if p.parts > 1 else [],
        )
        await audit.append(session, gw.clock, reader, "patient-data.read", "prescription", p.id, "success")
    return record


async def prescription_view(gw: Gateway, principal: Reader, any_id: str) -> dict[str, Any]:
    """Status and timeline by long-form or short-form id, for its trust, its provider or an operator.
    Anyone else's prescription answers exactly as one that does not exist."""
    return view_json(await read_prescription(gw, principal, any_id))


def view_json(record: PrescriptionRecord) -> dict[str, Any]:
    """The JSON of `GET /api/v1/prescriptions/{id}`."""
    p, items, deliveries, events, outbox = (
        record.prescription,
        record.items,
        record.deliveries,
        record.events,
        record.outbox,
    )
    return {
        "id": p.id,
        "short_form_id": p.short_form_id,
        "trust_ods": p.trust_ods,
        "rx_number": p.rx_number,
        "rx_version": p.rx_version,
        **_part(p, record.parts),
        "provider_ods": p.provider_ods,
        "route_reason": p.route_reason,
        "status": {"code": p.status, "display": lifecycle.PRESCRIPTION_STATUS[p.status]},
        "deliveries_authorised": p.deliveries_authorised,
        "deliveries_made": p.deliveries_made,
        "supply_until": p.supply_until.isoformat() if p.supply_until else None,
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
        "items": [
            {
                "id": i.id,
                "line_no": i.line_no,
                "dmd_code": i.dmd_code,
                "description": i.description,
                "quantity": i.quantity,
                "quantity_unit": i.quantity_unit,
                "status": {"code": i.status, "display": lifecycle.ITEM_STATUS[i.status]},
            }
            for i in items
        ],
        "deliveries": [
            {
                "number": d.number,
                "state": d.state,
                "scheduled_date": d.scheduled_date.isoformat() if d.scheduled_date else None,
                "window": d.window,
                "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
            }
            for d in deliveries
        ],
        "messages": [
            {"message_id": o.message_id, "provider_ods": o.provider_ods, "state": o.state, "attempts": o.attempts}
            for o in outbox
        ],
        "timeline": [event_json(e) for e in events],
    }


def _part(p: Prescription, parts: list[Prescription]) -> dict[str, Any]:
    """`part`: which part of the trust's prescription this EPS prescription is, and every part; {} if sent whole."""
    if p.parts <= 1:
        return {}
    return {
        "part": {
            "number": p.part,
            "of": p.parts,
            "parts": [
                {
                    "part": q.part,
                    "id": q.id,
                    "short_form_id": q.short_form_id,
                    "status": {"code": q.status, "display": lifecycle.PRESCRIPTION_STATUS[q.status]},
                }
                for q in parts
            ],
        }
    }


def event_json(e: LifecycleEvent) -> dict[str, Any]:
    """A timeline event as the prescription and message views show it."""
    return {
        "at": e.at.isoformat(),
        "kind": e.kind,
        "status": e.status,
        "actor_ods": e.actor_ods,
        "message_id": e.message_id,
        "detail": e.detail,
    }
