"""The webhook relay driven by hand (no workers in the server), on SQLite and PostgreSQL: what is owed lives in the
database, so a restart carries on; an attempt cut off by a crash is sent again when its lease runs out; two
processes never send one event twice; a new subscription gets only later events, and only the kinds it asked for."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from gateway import audit
from gateway.context import Gateway
from gateway.delivery.breaker import BreakerBoard, BreakerState
from gateway.settings import Settings
from gateway.store.tables import WebhookSubscription
from gateway.webhooks import subscriptions as service
from gateway.webhooks.cli import webhooks
from gateway.webhooks.relay import WebhookConfig, WebhookRelay
from gateway.wiring import build_gateway
from tests.integration.helpers import export_sids, status_feed
from tests.integration.webhook_receiver import Receiver, quick_settings, receiver


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """As conftest's, with no webhook workers in the server: these tests are the workers."""
    return quick_settings(database_url, tmp_path, webhook_workers=0)


async def _subscribe(gw: Gateway, rec: Receiver, events: list[str] | None = None) -> str:
    change = service.SubscriptionChange(url=rec.url, format="json", trust_ods="RBA", events=events)
    return (await service.add_subscription(gw, audit.SYSTEM, change)).id


async def test_what_is_owed_survives_a_restart_and_is_never_sent_twice(
    gw: Gateway, settings: Settings, trust: httpx.AsyncClient
) -> None:
    async with receiver() as rec:
        await _subscribe(gw, rec)
        await export_sids(trust, 3, seed=401)
        feed = [e["event_id"] for e in await status_feed(trust)]
        config = WebhookConfig(lease=timedelta(seconds=30))
        # A first process owes the events, claims what it may, and dies before sending any of it.
        first = build_gateway(settings)
        async with WebhookRelay.open(first, config=config) as relay:
            assert await relay.dispatch() == 6
            claimed = await relay.claim()
        await first.close()
        assert sorted(job.event_id for job in claimed) == feed[0::2]  # each prescription's first event only
        assert rec.received == []

        # Restarted, a minute later: the leases ran out; two processes share the rest.
        def later() -> datetime:
            return datetime.now(UTC) + timedelta(minutes=1)

        a, b = build_gateway(settings, clock=later), build_gateway(settings, clock=later)
        try:
            async with WebhookRelay.open(a, config=config) as one, WebhookRelay.open(b, config=config) as two:
                for _ in range(10):
                    if not any(await asyncio.gather(one.run_once(), two.run_once())):
                        break
        finally:
            await a.close()
            await b.close()
        assert sorted(int(r.event_id) for r in rec.received) == feed  # every event, exactly once
        attempts = {int(r.event_id): r.headers["x-hgw-attempt"] for r in rec.received}
        assert [attempts[e] for e in feed] == ["2", "1"] * 3  # the cut-off attempt counted


async def test_a_subscription_gets_later_events_of_the_kinds_it_wants(gw: Gateway, trust: httpx.AsyncClient) -> None:
    async with receiver() as rec:
        await export_sids(trust, 1, seed=411)  # before the subscription: never owed to it
        sub = await _subscribe(gw, rec, events=["queued"])
        await export_sids(trust, 2, seed=412)
        feed = await status_feed(trust)
        async with WebhookRelay.open(gw) as relay:
            assert await relay.dispatch() == 2
            assert await relay.dispatch() == 0  # owed once
            while await relay.run_once():
                pass
        wanted = [e["event_id"] for e in feed[2:] if e["kind"] == "queued"]
        assert sorted(int(r.event_id) for r in rec.received) == wanted  # two prescriptions: sent side by side
        async with gw.sessions() as session:
            stored = await session.get(WebhookSubscription, sub)
        assert stored is not None and stored.cursor == feed[-1]["event_id"]  # no gap: the cursor is at the end


async def test_a_paused_subscription_catches_up_when_resumed(gw: Gateway, trust: httpx.AsyncClient) -> None:
    async with receiver() as rec:
        sub = await _subscribe(gw, rec)
        await service.update_subscription(gw, audit.SYSTEM, sub, service.SubscriptionChange(active=False))
        await export_sids(trust, 1, seed=421)
        async with WebhookRelay.open(gw) as relay:
            assert await relay.dispatch() == 0 and await relay.run_once() == []
            await service.update_subscription(gw, audit.SYSTEM, sub, service.SubscriptionChange(active=True))
            while await relay.run_once():
                pass
        assert [int(r.event_id) for r in rec.received] == [e["event_id"] for e in await status_feed(trust)]


async def test_the_command_line_manages_and_tests_subscriptions(gw: Gateway, settings: Settings) -> None:
    def hgw(*args: str, code: int = 0) -> Any:
        result = CliRunner().invoke(webhooks, list(args), obj=settings)
        assert result.exit_code == code, result.output
        return json.loads(result.output)

    async with receiver(script=[200, 503]) as rec:
        made = await asyncio.to_thread(
            hgw, "add", "--trust", "rba", "--url", rec.url, "--format", "fhir", "--event", "cancelled",
            "--max-attempts", "3",
        )
        assert (made["trust_ods"], made["format"], made["events"], made["retry"]["max_attempts"]) == (
            "RBA", "fhir", ["cancelled"], 3
        )
        assert [s["id"] for s in await asyncio.to_thread(hgw, "list", "--trust", "RBA")] == [made["id"]]
        assert await asyncio.to_thread(hgw, "list", "--trust", "RHM") == []
        tested = await asyncio.to_thread(hgw, "test", made["id"])
        assert (tested["outcome"], tested["status_code"]) == ("delivered", 200)
        failed = await asyncio.to_thread(hgw, "test", made["id"], code=1)
        assert (failed["outcome"], failed["status_code"]) == ("http-503", 503)
        assert [r.headers["x-hgw-event-id"] for r in rec.received] == [tested["event_id"], failed["event_id"]]
        refused = await asyncio.to_thread(hgw, "add", "--trust", "RBA", "--url", "https://u:p@x.example/", "--format",
                                          "json", code=1)
        assert (refused["error"], refused["issues"][0]["expression"]) == ("INVALID_INPUT", "url")
        assert await asyncio.to_thread(hgw, "remove", made["id"]) == {"id": made["id"], "removed": True}
        gone = await asyncio.to_thread(hgw, "remove", made["id"], code=1)
        assert gone["error"] == "RESOURCE_NOT_FOUND"


async def test_an_unavailable_receiver_opens_its_breaker(gw: Gateway, trust: httpx.AsyncClient) -> None:
    """After `failure_threshold` unavailable answers nothing more is claimed for that URL, though events are due;
    after `reset_after` one trial goes out, and its success closes the breaker."""
    sent: list[str] = []
    answers = [503, 503, 200]

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["x-hgw-event-id"])
        return httpx.Response(answers.pop(0) if answers else 200)

    clock = {"now": datetime(2026, 11, 22, 9, 0, tzinfo=UTC)}
    breakers = BreakerBoard(clock=lambda: clock["now"], failure_threshold=2, reset_after=timedelta(seconds=30))
    change = service.SubscriptionChange(url="https://trust.example/hook", format="json", trust_ods="RBA")
    await service.add_subscription(gw, audit.SYSTEM, change, backoff_base_seconds=0.001, backoff_cap_seconds=0.001)
    await export_sids(trust, 1, seed=431)
    first, second = (e["event_id"] for e in await status_feed(trust))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        relay = WebhookRelay(gw, client, breakers=breakers)
        for _ in range(2):
            [result] = await relay.run_once()
            assert result.outcome == "retry"
            await asyncio.sleep(0.01)  # past the 1 ms backoff: the event is due again
        assert breakers("https://trust.example/hook").state is BreakerState.OPEN
        assert await relay.run_once() == [] and sent == [str(first)] * 2  # due, but the breaker holds it
        clock["now"] += timedelta(seconds=30)
        assert [r.outcome for r in await relay.run_once()] == ["delivered"]  # the one trial request
        assert breakers("https://trust.example/hook").state is BreakerState.CLOSED
        assert [r.event_id for r in await relay.run_once()] == [second]
    assert sent == [str(first)] * 3 + [str(second)]
