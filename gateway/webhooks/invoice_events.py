"""Invoice events for a provider's webhooks: `invoice-decided`, sent when a trust records decisions on its invoice.

The event is recorded (`invoice_event`) and owed to the provider's subscriptions in the decision's own transaction,
so it is sent exactly when the decision commits, at least once, through the same relay, signature, retries and
dead letters as a trust's lifecycle events. Its body is fixed when it is recorded: every retry sends the same bytes,
and a later decision on other lines is an event of its own.

The JSON body (the only format a provider's subscription takes; the FHIR `Invoice` with its status and
OperationOutcome is at `invoice_url`):

    {"event_id": "invoice-12", "kind": "invoice-decided", "at": "…", "invoice_id": "…", "reference": "INV-1",
     "provider_ods": "VNFKT", "trust_ods": "RBA", "status": "part-approved", "fhir_status": "issued",
     "lines": [{"line": 1, "prescription": "<short-form id>", "decision": "approved", "reason": null}, …],
     "pending_lines": 0, "invoice_url": "<base>/FHIR/R4/Invoice/…"}

`lines` are the lines this decision settled; a reason is a code (free text could carry patient data, so none is
taken). No patient data is carried.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store import repository
from gateway.store import webhooks as store
from gateway.store.invoice_tables import FHIR_STATUS, Invoice, InvoiceEvent, InvoiceLine

INVOICE_DECIDED: Final = "invoice-decided"
PROVIDER_EVENT_KINDS: Final = (INVOICE_DECIDED,)
"""The event kinds a provider's subscription may ask for."""
PROVIDER_FORMATS: Final = ("json",)
WIRE_PREFIX: Final = "invoice-"


def wire_id(invoice_event_id: int) -> str:
    """The event id a provider's receiver sees (`X-HGW-Event-Id`, `Idempotency-Key`, the body's `event_id`)."""
    return f"{WIRE_PREFIX}{invoice_event_id}"


async def record_decided(
    session: AsyncSession, invoice: Invoice, decided: Sequence[InvoiceLine], lines: Sequence[InvoiceLine], now: datetime
) -> InvoiceEvent:
    """Record that `decided` lines of `invoice` were settled (its status already updated) and owe the event to the
    provider's subscriptions, in the caller's transaction."""
    outcome = [
        {"line": line.line_no, "prescription": line.short_form_id, "decision": line.decision,
         "reason": line.decision_reason}
        for line in sorted(decided, key=lambda line: line.line_no)
    ]
    event = InvoiceEvent(
        kind=INVOICE_DECIDED, invoice_id=invoice.id, reference=invoice.reference, provider_ods=invoice.provider_ods,
        trust_ods=invoice.trust_ods or "", status=invoice.status, lines=json.dumps(outcome, separators=(",", ":")),
        pending=sum(1 for line in lines if line.decision == "pending"), at=now,
    )
    repository.save(session, event)
    await repository.save_now(session)  # its id, which the deliveries name
    await store.owe_invoice_event(session, event, now)
    return event


def event_json(event: InvoiceEvent, *, base_url: str) -> dict[str, Any]:
    """The event as its provider receives it."""
    return {
        "event_id": wire_id(event.id or 0),
        "kind": event.kind,
        "at": event.at.isoformat(),
        "invoice_id": event.invoice_id,
        "reference": event.reference,
        "provider_ods": event.provider_ods,
        "trust_ods": event.trust_ods,
        "status": event.status,
        "fhir_status": FHIR_STATUS.get(event.status, "issued"),
        "lines": json.loads(event.lines),
        "pending_lines": event.pending,
        "invoice_url": f"{base_url}/FHIR/R4/Invoice/{event.invoice_id}",
    }


def render(event: InvoiceEvent, *, base_url: str) -> bytes:
    """The request body of an invoice event."""
    return json.dumps(event_json(event, base_url=base_url), ensure_ascii=False, separators=(",", ":")).encode()
