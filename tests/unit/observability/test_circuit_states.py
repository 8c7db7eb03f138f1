"""Telemetry.circuit_states: the circuit of each endpoint across every relay's breakers in the process."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.delivery.breaker import BreakerBoard
from gateway.observability.telemetry import Telemetry

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_states_merge_across_boards() -> None:
    telemetry = Telemetry()
    assert telemetry.circuit_states() == {}
    first, second = BreakerBoard(lambda: NOW, failure_threshold=1), BreakerBoard(lambda: NOW, failure_threshold=1)
    telemetry.watch_breakers(first)
    telemetry.watch_breakers(second)
    first("https://a.example/fhir").record_failure()
    second("https://b.example/fhir")
    assert telemetry.circuit_states() == {"https://a.example/fhir": "open", "https://b.example/fhir": "closed"}
