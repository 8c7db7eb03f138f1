"""Gauges read from the database at scrape time, so that every process reports the same queue.

The database is async and a prometheus_client collector is not: a scrape first reads a `StoreReadings` (one
short read transaction), then renders it through a `StoreCollector` on a registry made for that scrape.
Circuit states and heartbeats are this process's own (each process keeps its own breakers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain.risk_reasons import CODES
from gateway.errors import StoreError
from gateway.observability.telemetry import Telemetry
from gateway.store import metrics as store_metrics
from gateway.store import risk_episodes
from gateway.store.metrics import QUEUE_STATES, QueueSnapshot

BREAKER_STATES = ("closed", "half-open", "open")


@dataclass(frozen=True, slots=True)
class StoreReadings:
    now: datetime
    queue: QueueSnapshot
    open_alerts: dict[str, int]
    at_risk: dict[str, int] = field(default_factory=dict)  # reason code → treatments at risk (open episodes)


async def read_store(sessions: async_sessionmaker[AsyncSession], now: datetime) -> StoreReadings:
    """One read of everything the gauges need; StoreError when the database cannot answer."""
    try:
        async with sessions() as session:
            queue = await store_metrics.queue_snapshot(session)
            alerts = await store_metrics.open_alert_counts(session)
            at_risk = await risk_episodes.open_counts_by_reason(session)
    except SQLAlchemyError as exc:
        raise StoreError(f"the metrics could not be read from the database ({type(exc).__name__})") from exc
    return StoreReadings(now, queue, alerts, at_risk)


class StoreCollector(Collector):
    """Renders one `StoreReadings` (plus this process's breakers and heartbeats) as gauge families.

    Without readings (the database did not answer) only `hgw_store_up 0` and the heartbeats are reported: the
    in-process counters stay scrapeable while the database is down."""

    def __init__(self, readings: StoreReadings | None, telemetry: Telemetry) -> None:
        self.readings = readings
        self.telemetry = telemetry

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("hgw_store_up", "1 when this scrape could read the database, else 0")
        up.add_metric([], 0.0 if self.readings is None else 1.0)
        yield up
        yield self._heartbeats()
        if self.readings is not None:
            yield from self._store(self.readings)

    def _heartbeats(self) -> Metric:
        beats = GaugeMetricFamily(
            "hgw_worker_heartbeat_age_seconds", "Seconds since each background worker of this process last beat",
            labels=["worker"],
        )
        for name, beat in sorted(self.telemetry.heartbeats.items()):
            beats.add_metric([name], beat.age)
        return beats

    def _store(self, readings: StoreReadings) -> Iterator[Metric]:
        now = readings.now
        queue = readings.queue
        known = sorted({p.ods for p in queue.providers} | {p for p, _ in queue.depth})

        depth = GaugeMetricFamily(
            "hgw_queue_depth", "Messages in the outbox by provider and state (queued, leased, dead)",
            labels=["provider", "state"],
        )
        for provider in known:
            for state in QUEUE_STATES:
                depth.add_metric([provider, state], queue.depth.get((provider, state), 0))
        yield depth

        oldest = GaugeMetricFamily(
            "hgw_queue_oldest_age_seconds", "Age of the oldest message waiting for each provider (0: none waits)",
            labels=["provider"],
        )
        lag = GaugeMetricFamily(
            "hgw_ack_lag_seconds",
            "How long the oldest order out with each provider has waited for its acknowledgement (0: none)",
            labels=["provider"],
        )
        for provider in known:
            since = queue.oldest_waiting.get(provider)
            oldest.add_metric([provider], max(0.0, (now - since).total_seconds()) if since else 0.0)
            handed = queue.oldest_unacknowledged.get(provider)
            lag.add_metric([provider], max(0.0, (now - handed).total_seconds()) if handed else 0.0)
        yield oldest
        yield lag

        poll = GaugeMetricFamily(
            "hgw_provider_last_poll_age_seconds", "Seconds since each pull provider last called Task/$release "
            "(since registration when it never has)", labels=["provider"],
        )
        up = GaugeMetricFamily(
            "hgw_provider_active", "1 when the provider is active and not paused", labels=["provider", "mode"]
        )
        for p in queue.providers:
            up.add_metric([p.ods, p.mode], 1.0 if p.active and not p.paused else 0.0)
            if p.mode == "pull":
                poll.add_metric([p.ods], max(0.0, (now - (p.last_poll_at or p.created_at)).total_seconds()))
        yield up
        yield poll

        circuit = GaugeMetricFamily(
            "hgw_circuit_state", "Circuit breaker of each push provider's endpoint in this process (1: current "
            "state)", labels=["provider", "state"],
        )
        states = self.telemetry.circuit_states()
        for p in queue.providers:
            if p.mode == "push" and p.endpoint:
                current = states.get(p.endpoint, "closed")
                for state in BREAKER_STATES:
                    circuit.add_metric([p.ods, state], 1.0 if state == current else 0.0)
        yield circuit

        alerts = GaugeMetricFamily("hgw_alerts_open", "Alerts open now, by rule", labels=["rule"])
        for rule, count in sorted(readings.open_alerts.items()):
            alerts.add_metric([rule], count)
        yield alerts

        at_risk = GaugeMetricFamily(
            "hgw_patients_at_risk", "Patients at risk of a missed dose, by reason (last evaluation)", labels=["reason"]
        )
        for reason in CODES:
            at_risk.add_metric([reason], readings.at_risk.get(reason, 0))
        yield at_risk


def render(telemetry: Telemetry, readings: StoreReadings | None) -> bytes:
    """The whole exposition: in-process instruments, then the gauges of this scrape."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(StoreCollector(readings, telemetry))
    return generate_latest(telemetry.metrics.registry) + generate_latest(scrape)
