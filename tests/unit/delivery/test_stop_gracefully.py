"""stop_gracefully: the stop shared by the workers' handle, the alert evaluator and `hgw worker`."""

from __future__ import annotations

import asyncio

import pytest

from gateway.observability.loops import RunningLoop, stop_gracefully


async def _until(stop: asyncio.Event) -> None:
    await stop.wait()


async def _ignoring(stop: asyncio.Event) -> None:
    await asyncio.sleep(3600)  # an attempt in flight that outlives the grace


async def _failing(stop: asyncio.Event) -> None:
    await stop.wait()
    raise RuntimeError("boom")


async def test_work_that_heeds_stop_ends_within_the_grace() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(_until(stop))
    async with asyncio.timeout(5):
        await stop_gracefully(stop, task, 5.0)
    assert stop.is_set() and task.done() and not task.cancelled()


async def test_work_past_the_grace_is_cancelled() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(_ignoring(stop))
    async with asyncio.timeout(5):
        await stop_gracefully(stop, task, 0.01)
    assert task.cancelled()


async def test_the_work_s_exception_propagates_but_the_handle_s_stop_logs_it() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(_failing(stop))
    with pytest.raises(RuntimeError):
        await stop_gracefully(stop, task, 5.0)
    stop = asyncio.Event()
    await RunningLoop(stop, asyncio.create_task(_failing(stop))).stop(5.0)  # stopping must not fail the shutdown
