"""The trust's view of one prescription: status, items, deliveries and the whole timeline."""

from __future__ import annotations

from typing import Any

from gateway import audit, lifecycle
from gateway.errors import NotFoundError
from gateway.security.principal import READ, Principal, Role, require_role
from gateway.services.context import Gateway
from gateway.store import repository
from gateway.store.tables import LifecycleEvent


async def prescription_view(gw: Gateway, principal: Principal, any_id: str) -> dict[str, Any]:
    """Status and timeline by long-form or short-form id, for its trust, its provider or an operator.
    Anyone else's prescription answers exactly as one that does not exist."""
    require_role(principal, Role.TRUST, Role.PROVIDER, Role.OPERATOR, scopes=READ)
    async with gw.sessions() as session, session.begin():
        p = await repository.find_prescription(session, any_id)
        visible = p is not None and (
            principal.sees_trust(p.trust_ods) or (principal.role is Role.PROVIDER and p.provider_ods == principal.ods)
        )
        if p is None or not visible:
            raise NotFoundError(f"prescription {any_id} not found")
        items = await repository.prescription_items(session, p.id)
        deliveries = await repository.prescription_deliveries(session, p.id)
        events = await repository.prescription_events(session, p.id)
        outbox = await repository.outbox_for_prescription(session, p.id)
        await audit.append(session, gw.clock, principal, "patient-data.read", "prescription", p.id, "success")
    return {
        "id": p.id,
        "short_form_id": p.short_form_id,
        "trust_ods": p.trust_ods,
        "rx_number": p.rx_number,
        "rx_version": p.rx_version,
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
