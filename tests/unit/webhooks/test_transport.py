"""Webhook answers: 2xx delivers; 408, 429, 5xx, timeouts and refused connections are transient (and count against
the breaker); other 4xx and redirects are permanent. The push retry policy then decides, with full jitter."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx
import pytest

from gateway.delivery.errors import EndpointUnavailableError, PermanentDeliveryError
from gateway.delivery.policy import GiveUp, Retry, RetryPolicy
from gateway.webhooks.transport import classify, post_event

URL = "https://trust.example/hook"


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_delivers(status: int) -> None:
    assert classify(status, b"") == status


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_unavailable_answers_are_transient(status: int) -> None:
    with pytest.raises(EndpointUnavailableError) as caught:
        classify(status, b"busy 9434765919")
    assert caught.value.outcome == f"http-{status}" and caught.value.status_code == status
    assert "9434765919" not in (caught.value.excerpt or "")  # an NHS-number-like run is masked


@pytest.mark.parametrize("status", [301, 302, 400, 401, 403, 404, 410, 422])
def test_other_answers_are_permanent(status: int) -> None:
    with pytest.raises(PermanentDeliveryError):
        classify(status, b"no")


async def _post(handler: httpx.MockTransport) -> int:
    async with httpx.AsyncClient(transport=handler) as client:
        return await post_event(client, URL, b"{}", {"X-HGW-Event-Id": "1"}, timeout=1.0)


async def test_the_request_carries_body_and_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    assert await _post(httpx.MockTransport(handler)) == 204
    assert seen[0].method == "POST" and str(seen[0].url) == URL
    assert seen[0].content == b"{}" and seen[0].headers["X-HGW-Event-Id"] == "1"


@pytest.mark.parametrize(
    ("error", "outcome"),
    [(httpx.ConnectError("refused"), "connection-error"), (httpx.ReadTimeout("slow"), "timeout")],
)
async def test_transport_failures_are_transient(error: Exception, outcome: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(EndpointUnavailableError) as caught:
        await _post(httpx.MockTransport(handler))
    assert caught.value.outcome == outcome and isinstance(caught.value.__cause__, httpx.HTTPError)


async def test_a_refusal_is_given_up_and_an_outage_is_retried_with_full_jitter() -> None:
    policy = RetryPolicy(max_attempts=3, base=timedelta(seconds=2), cap=timedelta(seconds=60))
    rng = random.Random(7)
    with pytest.raises(PermanentDeliveryError) as refused:
        await _post(httpx.MockTransport(lambda r: httpx.Response(410)))
    assert isinstance(policy.decide(refused.value, attempt=1, age=timedelta(0), rng=rng), GiveUp)
    with pytest.raises(EndpointUnavailableError) as down:
        await _post(httpx.MockTransport(lambda r: httpx.Response(503)))
    delays = [policy.decide(down.value, attempt=2, age=timedelta(0), rng=rng) for _ in range(50)]
    assert all(isinstance(d, Retry) and timedelta(0) <= d.delay <= timedelta(seconds=4) for d in delays)
    assert len({d.delay for d in delays if isinstance(d, Retry)}) > 40  # jittered, not one fixed delay
    last = policy.decide(down.value, attempt=3, age=timedelta(0), rng=rng)
    assert isinstance(last, GiveUp) and "gave up after 3 attempts" in last.reason
