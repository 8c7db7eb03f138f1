"""The console's "Prescriptions" pages (docs/console.md, "One portal"): `/console/prescriptions`, the
prescriptions a signed-in user may see, newest first, and `/console/prescriptions/{short_form_id}`, one of them
with its timeline. A trust's staff see their trust's across every provider, a provider's staff the orders routed
to it, the gateway's operators all (NHS numbers masked). Another organisation's prescription is a 404 page, as
on the API (gateway.operations.portal)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from gateway.api.deps import get_gateway
from gateway.console.pages import _context, _guarded
from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.operations.operators import ConsoleSession
from gateway.operations.portal import parse_query, prescription_detail, prescription_list

router = APIRouter(tags=["console"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
Gw = Annotated[Gateway, Depends(get_gateway)]

# The timeline's event kinds (docs/trust-integration.md, the status feed) in the words of the people reading it.
EVENT_WORDS: Final = {
    "received": "Received from the trust",
    "prescriber-signature": "Prescriber's signature checked",
    "held": "Held: no homecare provider found",
    "queued": "Sent to the provider",
    "released": "Collected by the provider",
    "acknowledged": "Accepted by the provider",
    "provider-transient-error": "Provider not reached; trying again",
    "provider-rejected": "Refused by the provider",
    "cancellation-requested": "Cancellation asked of the provider",
    "item-cancelled": "Line item cancelled by the provider",
    "cancelled": "Cancelled",
    "dispensed": "Dispensed",
    "dispense-amended": "Dispensing corrected",
    "dispense-withdrawn": "Dispensing withdrawn",
    "delivery-scheduled": "Delivery booked",
    "delivery-dispatched": "Delivery on its way",
    "delivery-delivered": "Delivered",
    "delivery-failed": "Delivery failed",
    "delivery-returned": "Delivery returned",
    "returned": "Handed back by the provider",
    "replayed": "Sent to the provider again",
    "dead-letter-dismissed": "Handled outside the gateway",
    "expired": "Expired",
    "query-raised": "Clinical query from the provider",
    "query-answered": "Clinical query answered",
    "prescription-due": "Next prescription asked for",
    "prescription-due-answered": "Next prescription request answered",
    "patient-at-risk": "Patient at risk of a missed dose",
    "missed-dose": "Missed dose reported",
    "late-dose": "Late dose reported",
}

# Events whose detail is about the gateway's own workings (ids of files, leases, routing rules, retries): shown to
# the gateway's operators only; a trust's or a provider's staff see what happened, in the words above.
OPERATIONS_DETAIL: Final = frozenset(
    {"received", "queued", "released", "replayed", "dead-letter-dismissed", "provider-transient-error"}
)


def event_words(kind: str) -> str:
    """An event kind in plain words; one not listed, with its dashes as spaces."""
    return EVENT_WORDS.get(kind) or kind.replace("-", " ").capitalize()


@router.get("/console/prescriptions", response_class=HTMLResponse)
async def prescriptions_page(request: Request, gw: Gw) -> Response:
    q = request.query_params

    async def handler(s: ConsoleSession) -> Response:
        query = parse_query(q.get("status"), q.get("page"), q.get("limit"))
        found = await prescription_list(gw, s.actor, query)
        keep = {k: v for k, v in (("status", query.status), ("limit", str(query.limit))) if v}
        links = {
            "prev": f"?{urlencode({**keep, 'page': query.page - 1})}",
            "next": f"?{urlencode({**keep, 'page': query.page + 1})}",
        }
        values = {"r": found, "statuses": lifecycle.PRESCRIPTION_STATUS, "links": links}
        return templates.TemplateResponse(request, "prescriptions.html", _context(request, s, **values))

    return await _guarded(request, gw, handler)


@router.get("/console/prescriptions/{short_form_id}", response_class=HTMLResponse)
async def prescription_page(request: Request, gw: Gw, short_form_id: str) -> Response:
    async def handler(s: ConsoleSession) -> Response:
        view = await prescription_detail(gw, s.actor, short_form_id)
        operations = s.actor.organisation_ods is None
        timeline = [
            {
                **e,
                "words": event_words(e["kind"]),
                "detail": e["detail"] if operations or e["kind"] not in OPERATIONS_DETAIL else None,
            }
            for e in view["timeline"]
        ]
        statuses = lifecycle.PRESCRIPTION_STATUS
        values = {"p": view, "timeline": timeline, "statuses": statuses}
        return templates.TemplateResponse(request, "prescription.html", _context(request, s, **values))

    return await _guarded(request, gw, handler)
