"""Inbound exports: store the raw payload, parse it, and turn each good prescription into a queued order.

The raw payload is committed first, whatever follows. `handling` does the rest: here, in worker threads, or, for a
heavy export during a request, in a process of its own (`isolated`), so that the serving process never holds its
objects. The payload's outcome and a summary without patient data are recorded last.
"""

from __future__ import annotations

import json
import uuid

from adapters import adapter_for
from gateway.budget import offload, settle
from gateway.context import Gateway
from gateway.domain.principal import WRITE, Principal, Role, require_role
from gateway.errors import Issue
from gateway.intake import isolated
from gateway.intake.handling import handle
from gateway.intake.outcomes import ACCEPTED, IngestReport, PrescriptionOutcome, located_code
from gateway.store import inbound_messages, repository
from gateway.store.inbound_messages import raw_payload


async def ingest_export(gw: Gateway, principal: Principal, payload: bytes, content_type: str) -> IngestReport:
    """Store `payload`, then accept or reject each prescription in it on its own. Only the caller's trust's
    prescriptions are accepted: the tenant is the token's, whatever TrustODS says."""
    require_role(principal, Role.TRUST, scopes=WRITE)
    adapter = adapter_for(content_type)
    payload_id = str(uuid.uuid4())
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        fmt = adapter.name if adapter else "unknown"
        repository.save(session, raw_payload(gw, payload_id, principal.ods, fmt, content_type, payload, now))
    if isolated.wanted(gw, payload):
        handled = await isolated.handle_isolated(gw, principal, payload, content_type, payload_id, now)
    else:
        handled = await handle(gw, principal, payload, content_type, payload_id, now)
    gw.outbox_signal.notify(handled.providers)  # committed: wake the long-polls of those providers
    settle()  # every outcome is decided (and stored): the summary and the answer must follow, whatever they cost
    outcomes = handled.outcomes
    accepted = sum(o.outcome in ACCEPTED for o in outcomes)
    overall = "rejected" if accepted == 0 else "accepted" if accepted == len(outcomes) else "partially_accepted"
    report = IngestReport(
        payload_id, handled.format, overall, outcomes, handled.file_issues, parsed=handled.parsed, ack=handled.ack
    )
    summary = await offload(_summary, overall, outcomes, handled.file_issues)
    async with gw.sessions() as session, session.begin():
        await inbound_messages.set_inbound_outcome(session, payload_id, overall, summary)
    gw.telemetry.metrics.inbound_payload(handled.format, overall)
    return report


def _summary(overall: str, outcomes: list[PrescriptionOutcome], file_issues: list[Issue]) -> str:
    """What the inbound row keeps in clear: outcomes and located codes, never a value seen (patient data)."""
    return json.dumps(
        {
            "outcome": overall,
            "file_issues": [located_code(i) for i in file_issues],
            "prescriptions": [o.stored_dict() for o in outcomes],
        }
    )
