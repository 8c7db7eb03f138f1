"""GET /metrics over a real loopback server after real traffic, on SQLite and PostgreSQL.

The exposition is parsed with prometheus_client's own parser; the tests read values before and after traffic,
so a counter that never moves, a gauge read from the wrong rows, or an id leaking into a label fails them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from conformance.parties import provider_messages as msg
from gateway.context import Gateway
from gateway.store import outbox_queue
from tests.integration.helpers import export, post_export, post_fhir, release
from tests.integration.test_push import PUSH_ODS, environment

SCRAPE_TOKEN = "scrape-token-for-tests"  # noqa: S105


class Scrape:
    """One parsed exposition: value(name, **labels) of a sample, and every sample for label checks."""

    def __init__(self, text: str) -> None:
        self.samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def value(self, name: str, **labels: str) -> float | None:
        for s in self.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
        return None

    def labels(self, name: str) -> list[dict[str, str]]:
        return [s.labels for s in self.samples if s.name == name]


async def scrape(client: httpx.AsyncClient, **headers: str) -> Scrape:
    r = await client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return Scrape(r.text)


async def test_only_operators_and_the_scrape_token_read_metrics(
    as_party: Callable[[str], httpx.AsyncClient], anon: httpx.AsyncClient
) -> None:
    r = await anon.get("/metrics")
    assert r.status_code == 401 and r.json()["error"] == "UNAUTHORIZED"
    assert (await anon.get("/metrics", headers={"Authorization": "Bearer nope"})).status_code == 401
    assert (await as_party("trust").get("/metrics")).status_code == 403
    assert (await as_party("provider").get("/metrics")).status_code == 403
    await scrape(as_party("operator"))


async def test_pull_traffic_moves_the_counters_and_the_queue_gauges(
    gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient, as_party: Callable[[str], httpx.AsyncClient]
) -> None:
    operator = as_party("operator")
    before = await scrape(operator)
    assert before.value("hgw_store_up") == 1
    assert before.value("hgw_queue_depth", provider="VNFKT", state="queued") == 0
    assert before.value("hgw_queue_oldest_age_seconds", provider="VNFKT") == 0
    assert before.value("hgw_releases_total", provider="VNFKT") is None

    r = await post_export(trust, export(2, seed=11))
    assert r.status_code == 200, r.text
    queued = await scrape(operator)
    assert queued.value("hgw_inbound_messages_total", format="jac", outcome="accepted") == 1
    assert queued.value("hgw_queue_depth", provider="VNFKT", state="queued") == 2
    assert queued.value("hgw_queue_depth", provider="VNCEL", state="queued") == 0
    assert (queued.value("hgw_queue_oldest_age_seconds", provider="VNFKT") or 0) >= 0
    # The provider's poll age is there for pull providers (since registration: it has not polled yet).
    assert queued.value("hgw_provider_last_poll_age_seconds", provider="VNFKT") is not None

    orders = await release(provider, "VNFKT")
    assert len(orders) == 2
    leased = await scrape(operator)
    assert leased.value("hgw_releases_total", provider="VNFKT") == 2
    assert leased.value("hgw_queue_depth", provider="VNFKT", state="leased") == 2
    assert leased.value("hgw_queue_depth", provider="VNFKT", state="queued") == 0
    assert (leased.value("hgw_ack_lag_seconds", provider="VNFKT") or -1) >= 0

    first = msg.order_facts(orders[0])["message_id"]
    r = await post_fhir(provider, "/FHIR/R4/$process-message", msg.acknowledgement("VNFKT", first, "x"))
    assert r.status_code == 200, r.text
    acked = await scrape(operator)
    assert acked.value("hgw_acknowledgements_total", provider="VNFKT", response="ok") == 1
    assert acked.value("hgw_delivery_latency_seconds_count", provider="VNFKT", mode="pull") == 1
    assert acked.value("hgw_queue_depth", provider="VNFKT", state="leased") == 1

    # HTTP timings by route template and status: the export, the release and the acknowledgement.
    http = acked.labels("hgw_http_request_duration_seconds_count")
    routes = {(h["method"], h["route"], h["status"]) for h in http}
    assert {("POST", "/api/v1/exports", "200"), ("POST", "/FHIR/R4/Task/$release", "200")} <= routes
    assert ("GET", "/metrics", "200") in routes
    await operator.get("/api/v1/prescriptions/no-such-prescription")
    await operator.get("/no/such/route/12345")
    later = await scrape(operator)
    routes = {(h["route"], h["status"]) for h in later.labels("hgw_http_request_duration_seconds_count")}
    assert ("/api/v1/prescriptions/{prescription_id}", "404") in routes
    assert ("unmatched", "404") in routes

    # No identifier ever becomes a label value: bounded cardinality, no patient or prescription data.
    ids = {msg.order_facts(o)["message_id"] for o in orders} | {msg.order_facts(o)["short_form_id"] for o in orders}
    async with gw.sessions() as session:
        ids |= {row.prescription_id for row in await outbox_queue.list_outbox(session, provider_ods="VNFKT")}
    assert not {v for s in (await scrape(operator)).samples for v in s.labels.values()} & ids


async def test_push_attempts_latency_dead_letters_and_circuit_state(settings: Any) -> None:
    settings = settings.model_copy(update={"metrics_token": SCRAPE_TOKEN})
    async with environment(settings, workers=0, fake_time=True) as env:
        bearer = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}
        base = str(env.trust.base_url)
        async with httpx.AsyncClient(base_url=base, timeout=30) as ops:
            start = await scrape(ops, **bearer)
            assert start.value("hgw_circuit_state", provider=PUSH_ODS, state="closed") == 1
            assert start.value("hgw_delivery_attempts_total", provider=PUSH_ODS, outcome="ok") is None

            env.provider.script = ["500", "ok", "400"]
            (first,) = await env.submit(1, seed=21)
            assert await env.round() == ["retry"]
            env.clock.move_to((await env.row(first)).available_at)
            env.clock.advance(5)
            assert await env.round() == ["delivered"]
            (second,) = await env.submit(1, seed=22)
            assert await env.round() == ["dead"]

            after = await scrape(ops, **bearer)
            assert after.value("hgw_delivery_attempts_total", provider=PUSH_ODS, outcome="transient") == 1
            assert after.value("hgw_delivery_attempts_total", provider=PUSH_ODS, outcome="ok") == 1
            assert after.value("hgw_delivery_attempts_total", provider=PUSH_ODS, outcome="permanent") == 1
            assert after.value("hgw_push_latency_seconds_count", provider=PUSH_ODS) == 3
            assert after.value("hgw_delivery_latency_seconds_count", provider=PUSH_ODS, mode="push") == 1
            # received → delivered on the gateway's clock: at least the retry's wait
            assert (after.value("hgw_delivery_latency_seconds_sum", provider=PUSH_ODS, mode="push") or 0) >= 5
            assert after.value("hgw_dead_letters_total", provider=PUSH_ODS) == 1
            assert after.value("hgw_queue_depth", provider=PUSH_ODS, state="dead") == 1
            assert after.value("hgw_queue_depth", provider=PUSH_ODS, state="queued") == 0
            assert after.value("hgw_circuit_state", provider=PUSH_ODS, state="closed") == 1

            ids = {first, second}
            async with env.gw.sessions() as session:
                for row in await outbox_queue.list_outbox(session, provider_ods=PUSH_ODS):
                    ids |= {row.prescription_id, row.order_key}
            assert not {v for s in after.samples for v in s.labels.values()} & ids

            # The breaker opening shows in the circuit gauge (three unavailable answers in a row).
            env.provider.default = "500"
            (third,) = await env.submit(1, seed=23)
            for _ in range(3):
                await env.round()
                env.clock.move_to((await env.row(third)).available_at)
            opened = await scrape(ops, **bearer)
            assert opened.value("hgw_circuit_state", provider=PUSH_ODS, state="open") == 1
            assert opened.value("hgw_circuit_state", provider=PUSH_ODS, state="closed") == 0
