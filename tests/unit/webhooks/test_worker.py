"""run_webhook_worker: keeps going when a round fails, beats its heartbeat every loop, stops when told."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from gateway.observability.telemetry import Heartbeat
from gateway.settings import Settings
from gateway.webhooks.worker import run_webhook_worker, start_webhook_workers


class ScriptedRelay:
    """Stands in for WebhookRelay: each round returns or raises the next scripted outcome, then sets `stop`."""

    def __init__(self, stop: asyncio.Event, outcomes: list[Any]) -> None:
        self.stop = stop
        self.outcomes = outcomes
        self.rounds = 0

    async def run_once(self) -> list[Any]:
        self.rounds += 1
        if not self.outcomes:
            self.stop.set()
            return []
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return list(outcome)


class CountingHeartbeat(Heartbeat):
    beats: int = 0

    def beat(self) -> None:
        self.beats += 1
        super().beat()


async def test_a_failed_round_is_logged_and_the_loop_goes_on_beating() -> None:
    stop = asyncio.Event()
    relay = ScriptedRelay(stop, [RuntimeError("database restarting"), ["delivered"], ["retry"]])
    heartbeat = CountingHeartbeat("webhooks", stale_after=60)
    async with asyncio.timeout(5):
        await run_webhook_worker(SimpleNamespace(), stop, relay, poll=0.001, heartbeat=heartbeat)  # type: ignore[arg-type]
    assert relay.rounds == 4 and heartbeat.beats == 4


def test_no_workers_when_the_setting_is_zero() -> None:
    gw = SimpleNamespace(settings=Settings(webhook_workers=0))
    assert start_webhook_workers(gw) is None  # type: ignore[arg-type]
