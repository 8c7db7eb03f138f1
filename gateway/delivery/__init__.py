"""Getting orders to providers and their answers back: push, pull, acknowledgements, returns and re-routing.

Enters: queued orders written by `gateway.intake`. Push: `worker` runs `push` (claims, `transport` over a
provider's `pools`, `policy`, `breaker`, a round finished by `push_finish`), `queue` and `replay` are the
operator's handles. Pull: `release` leases orders to a provider's `Task/$release`. Providers answer with
`acknowledgements` (or a `rejections` outcome); `returns` hands a prescription back and `rerouting` sends it to the
next provider. Leaves: delivered, acknowledged or dead-lettered outbox rows, and lifecycle events for the trust.
docs/delivery.md.
"""

__all__ = [
    "acknowledgements",
    "attempt_labels",
    "bounded",
    "breaker",
    "cli",
    "errors",
    "policy",
    "pools",
    "process",
    "push",
    "push_finish",
    "push_jobs",
    "queue",
    "rejections",
    "release",
    "replay",
    "rerouting",
    "returns",
    "tls",
    "transport",
    "worker",
]
