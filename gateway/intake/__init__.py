"""What comes in from trusts: an export (JAC, Ascribe, HL7 v2, EPS FHIR) is kept raw, parsed and turned into orders.

Enters: a trust's payload (`POST /api/v1/exports`, `$process-message` orders, `hgw ingest`, MLLP). `ingest` keeps it
(`inbound_messages`) and has it handled (`handling`: here, or for a heavy export during a request in a process of
its own, `isolated`): parsed with the adapters, then `planning` builds each prescription's EPS order (new, AMEND or
CANCEL through `changes`, split by `parts`, ids checked by `reused_ids`) as typed `rows`; `order_writer`, the one
writer of every message for a provider (re-routed orders too), validates, signs and seals it as a queued outbox
row. Leaves: queued orders for `gateway.delivery`, and per-prescription `outcomes` (the HL7 v2 ACK in `hl7_answers`).
"""

__all__ = [
    "changes",
    "cli",
    "handling",
    "hl7_answers",
    "idempotency",
    "ingest",
    "isolated",
    "offline",
    "order_writer",
    "outcomes",
    "parts",
    "plan_pool",
    "planning",
    "reused_ids",
    "rows",
]
