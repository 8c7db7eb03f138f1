"""The in-process instruments: counters and histograms this process records as things happen.

Labels are provider ODS codes, formats, outcomes and route templates: bounded sets, never a patient, a
prescription or a message id. Gauges that must agree across processes are read from the database at scrape
time instead (`collector.py`).
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram

# Seconds: a push answer usually takes well under a second; anything past the 10 s timeout is a timeout.
PUSH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Seconds from receipt to delivery: from a push in seconds to a pull provider polling hours later.
END_TO_END_BUCKETS = (1, 5, 15, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 72 * 3600)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

ATTEMPT_OUTCOMES = ("ok", "transient", "permanent", "timeout")


class GatewayMetrics:
    """Every counter and histogram of one gateway, on its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.attempts = Counter(
            "hgw_delivery_attempts", "Push delivery attempts by provider and outcome (ok, transient, permanent, "
            "timeout)", ["provider", "outcome"], registry=r,
        )
        self.push_latency = Histogram(
            "hgw_push_latency_seconds", "Time a provider took to answer one push POST", ["provider"],
            buckets=PUSH_BUCKETS, registry=r,
        )
        self.end_to_end = Histogram(
            "hgw_delivery_latency_seconds", "Time from receipt (or replay) of an order to the provider accepting it",
            ["provider", "mode"], buckets=END_TO_END_BUCKETS, registry=r,
        )
        self.releases = Counter(
            "hgw_releases", "Orders handed out by Task/$release (pull)", ["provider"], registry=r
        )
        self.acknowledgements = Counter(
            "hgw_acknowledgements", "Pull acknowledgements by response code", ["provider", "response"], registry=r
        )
        self.dead_letters = Counter(
            "hgw_dead_letters", "Orders this process dead-lettered (see hgw_queue_depth{state=\"dead\"} for all)",
            ["provider"], registry=r,
        )
        self.inbound = Counter(
            "hgw_inbound_messages", "Inbound payloads (exports, HL7 v2, EPS orders) by format and outcome",
            ["format", "outcome"], registry=r,
        )
        self.http = Histogram(
            "hgw_http_request_duration_seconds", "HTTP requests by method, route template and status",
            ["method", "route", "status"], buckets=HTTP_BUCKETS, registry=r,
        )
        self.alert_transitions = Counter(
            "hgw_alert_transitions", "Alerts this process opened or resolved", ["rule", "transition"], registry=r
        )
        self.alert_notifications = Counter(
            "hgw_alert_notifications", "Alert notifications by channel and outcome", ["channel", "outcome"],
            registry=r,
        )

    def push_attempt(self, provider: str, outcome: str, seconds: float) -> None:
        """One POST to a provider, `outcome` one of ATTEMPT_OUTCOMES."""
        self.attempts.labels(provider, outcome).inc()
        self.push_latency.labels(provider).observe(seconds)

    def push_finished(self, provider: str, result: str, queued_at: datetime, now: datetime) -> None:
        """A push attempt applied: delivered orders feed the end-to-end latency, dead ones the dead letters."""
        if result == "delivered":
            self.end_to_end.labels(provider, "push").observe(max(0.0, (now - queued_at).total_seconds()))
        elif result == "dead":
            self.dead_letters.labels(provider).inc()

    def released(self, provider: str, count: int) -> None:
        if count:
            self.releases.labels(provider).inc(count)

    def acknowledged(self, provider: str, response: str, queued_at: datetime, now: datetime) -> None:
        """A pull acknowledgement applied; an ok one completes the order's journey."""
        self.acknowledgements.labels(provider, response).inc()
        if response == "ok":
            self.end_to_end.labels(provider, "pull").observe(max(0.0, (now - queued_at).total_seconds()))

    def inbound_payload(self, fmt: str, outcome: str) -> None:
        self.inbound.labels(fmt or "unknown", outcome).inc()
