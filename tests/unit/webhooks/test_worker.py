"""run_webhook_worker: keeps going when a round fails, beats its heartbeat every loop, stops when told."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from gateway.observability.telemetry import Heartbeat
from gateway.settings import Settings
from gateway.webhooks.worker import run_webhook_worker, start_webhook_workers
from tests.unit.worker_fakes import ScriptedRelay


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
        await run_webhook_worker(stop, relay, poll=0.001, heartbeat=heartbeat)  # type: ignore[arg-type]
    assert relay.rounds == 4 and heartbeat.beats == 4


def test_no_workers_when_the_setting_is_zero() -> None:
    gw = SimpleNamespace(settings=Settings(webhook_workers=0))
    assert start_webhook_workers(gw) is None  # type: ignore[arg-type]
