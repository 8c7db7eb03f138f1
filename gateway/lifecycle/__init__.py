"""What happens to a prescription after the provider has it: dispensing, deliveries, returns of status to the trust.

Enters: a provider's dispense notifications (`dispensing`, `withdraw`), delivery Tasks (`deliveries`), clinical
queries (`clinical_queries`), dispatched by `provider_tasks`; the daily `expiry` job. Each applies the state machines
of `gateway.domain.states` and keeps the supply history (`supply`, `supply_history`). Leaves: lifecycle events, read
by the trust through the `status_feed` (in `status_formats`), the `tracker` and `prescription_view`, and relayed by
`gateway.webhooks`.
"""

__all__ = [
    "cli",
    "clinical_queries",
    "deliveries",
    "dispensing",
    "expiry",
    "patient_check",
    "prescription_view",
    "status_feed",
    "status_formats",
    "supply",
    "tracker",
    "withdraw",
]
