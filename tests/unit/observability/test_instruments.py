"""Metric outcomes and labels stay in their small fixed sets, whatever a provider or a client sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gateway.delivery.attempt_labels import attempt_outcome
from gateway.delivery.errors import EndpointUnavailableError, PermanentDeliveryError, TransientDeliveryError
from gateway.delivery.transport import Answered, AwaitingResponse
from gateway.observability.http import HttpMetricsMiddleware
from gateway.observability.metrics import ATTEMPT_OUTCOMES, GatewayMetrics


def test_every_answer_maps_to_one_of_four_outcomes() -> None:
    cases = {
        Answered("ok", 200, ""): "ok",
        AwaitingResponse(202, ""): "ok",
        Answered("fatal-error", 200, ""): "permanent",
        Answered("transient-error", 200, ""): "transient",
        EndpointUnavailableError("slow", outcome="timeout"): "timeout",
        EndpointUnavailableError("down", outcome="http-503", status_code=503): "transient",
        TransientDeliveryError("garbled", outcome="unreadable-answer", status_code=200): "transient",
        PermanentDeliveryError("no", outcome="http-400", status_code=400): "permanent",
    }
    for answer, expected in cases.items():
        assert attempt_outcome(answer) == expected
    assert set(cases.values()) == set(ATTEMPT_OUTCOMES)


def test_end_to_end_latency_is_observed_for_delivered_orders_only() -> None:
    metrics = GatewayMetrics()
    now = datetime(2026, 11, 23, tzinfo=UTC)
    metrics.push_finished("VNA", "retry", now - timedelta(minutes=5), now)
    metrics.push_finished("VNA", "delivered", now - timedelta(minutes=5), now)
    metrics.push_finished("VNA", "dead", now - timedelta(minutes=9), now)
    get = metrics.registry.get_sample_value
    assert get("hgw_delivery_latency_seconds_count", {"provider": "VNA", "mode": "push"}) == 1
    assert get("hgw_delivery_latency_seconds_sum", {"provider": "VNA", "mode": "push"}) == 300
    assert get("hgw_dead_letters_total", {"provider": "VNA"}) == 1


async def test_request_labels_are_route_templates_and_known_methods() -> None:
    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["item_id"])

    metrics = GatewayMetrics()
    app = HttpMetricsMiddleware(Starlette(routes=[Route("/items/{item_id}", item)]), metrics)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        await client.get("/items/9434765919")
        await client.get("/items/another-id")
        await client.get("/elsewhere/9434765919")
        await client.request("BREW", "/items/1")
    labels = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for family in metrics.registry.collect() for s in family.samples if s.name.endswith("_count")
    }
    assert labels == {
        ("GET", "/items/{item_id}", "200"): 2,
        ("GET", "unmatched", "404"): 1,
        ("other", "/items/{item_id}", "405"): 1,
    }
