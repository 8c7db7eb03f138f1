"""Inbound FHIR messages sent to the stage that handles them.

Enters: `$process-message` (one message or a FHIR `batch` of them) and `POST /FHIR/R4/Task` from providers and
trusts. `process_message` reads the message header's event and hands an order to `gateway.intake`, an
acknowledgement to `gateway.delivery`, a dispense notification to `gateway.lifecycle`; `provider_tasks` does the
same for Tasks (returns, withdrawals, deliveries, clinical queries). Leaves: each handler's answer.
"""

__all__ = [
    "message_batch",
    "process_message",
    "provider_tasks",
]
