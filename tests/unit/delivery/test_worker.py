"""run_push_worker: keeps going when a round fails, idles between empty rounds, stops when told."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from gateway.delivery.worker import run_push_worker, start_push_workers
from gateway.settings import Settings
from tests.unit.worker_fakes import ScriptedRelay


async def test_a_failed_round_is_logged_and_the_loop_goes_on() -> None:
    stop = asyncio.Event()
    relay = ScriptedRelay(stop, [RuntimeError("database restarting"), ["delivered"], ["delivered"]])
    async with asyncio.timeout(5):
        await run_push_worker(SimpleNamespace(), stop, relay=relay, poll=0.001)  # type: ignore[arg-type]
    assert relay.rounds == 4


async def test_busy_rounds_follow_each_other_and_an_idle_one_waits_for_stop() -> None:
    stop = asyncio.Event()
    relay = ScriptedRelay(stop, [["delivered"]] * 3 + [[]])
    # A long poll: the idle round can only end because `stop` is set, not because the poll ran out.
    async with asyncio.timeout(5):
        task = asyncio.create_task(run_push_worker(SimpleNamespace(), stop, relay=relay, poll=3600))  # type: ignore[arg-type]
        while relay.rounds < 4:
            await asyncio.sleep(0)
        stop.set()
        await task
    assert relay.rounds == 4


def test_no_workers_when_the_setting_is_zero() -> None:
    gw = SimpleNamespace(settings=Settings(push_workers=0))
    assert start_push_workers(gw) is None  # type: ignore[arg-type]
