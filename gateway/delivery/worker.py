"""The push workers: asyncio loops in the gateway process, started and stopped by the app's lifespan.

`HGW_PUSH_WORKERS` loops (default 1; 0 turns push delivery off in this process) share one relay: one HTTP client
and one set of circuit breakers. Any number of gateway processes may run workers against one PostgreSQL
database; claims never hand the same order to two of them (see `gateway.delivery.push`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from gateway.delivery.push import PushRelay
from gateway.logs import log
from gateway.observability.telemetry import Heartbeat
from gateway.services.context import Gateway

logger = logging.getLogger("gateway.delivery.worker")

POLL_SECONDS = 1.0
"""How long an idle worker waits before looking for due orders again."""
MAX_BACKOFF_SECONDS = 30.0
"""The longest wait after repeated failures of the relay itself (the database restarting, say)."""
PUSH_HEARTBEAT = "push"
"""The heartbeat the push workers of a process share (`gateway.services.health` reads it)."""
STOP_GRACE_SECONDS = 15.0
"""How long stopping waits for attempts in flight before cancelling them (their leases then run out)."""


async def run_push_worker(
    gw: Gateway,
    stop: asyncio.Event,
    *,
    relay: PushRelay | None = None,
    poll: float = POLL_SECONDS,
    heartbeat: Heartbeat | None = None,
) -> None:
    """Deliver due push orders until `stop` is set; wait `poll` seconds whenever there was nothing to do.

    `heartbeat` is beaten once a loop, whatever the round's outcome: readiness reads it to tell a live worker
    from a hung or dead one."""
    async with contextlib.AsyncExitStack() as stack:
        if relay is None:
            relay = await stack.enter_async_context(PushRelay.open(gw))
        await run_rounds(relay.run_once, stop, poll=poll, heartbeat=heartbeat, name="push", logger=logger)


async def run_rounds(
    run_once: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    *,
    poll: float,
    heartbeat: Heartbeat | None,
    name: str,
    logger: logging.Logger,
) -> None:
    """Await `run_once` until `stop` is set: again at once after a busy (truthy) round, else after `poll` seconds.

    A failed round is logged as "`name` round failed" and the wait doubles with each failure in a row (up to
    MAX_BACKOFF_SECONDS); the loop outlives it, since leases cover the work that round had claimed. The push and
    webhook workers share this loop."""
    failures = 0
    while not stop.is_set():
        if heartbeat is not None:
            heartbeat.beat()
        try:
            busy = bool(await run_once())
            failures = 0
        except Exception as exc:
            failures += 1
            busy = False
            log(logger, logging.ERROR, f"{name} round failed", error=type(exc).__name__, failures=failures)
        if busy:
            continue
        wait = poll if failures == 0 else min(MAX_BACKOFF_SECONDS, poll * 2.0 ** min(failures, 16))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)


async def run_push_workers(
    gw: Gateway, stop: asyncio.Event, *, count: int, poll: float = POLL_SECONDS, heartbeat: Heartbeat | None = None
) -> None:
    """`count` workers sharing one relay (and `heartbeat`), until `stop` is set."""
    async with PushRelay.open(gw) as relay:
        await asyncio.gather(
            *(run_push_worker(gw, stop, relay=relay, poll=poll, heartbeat=heartbeat) for _ in range(count))
        )


async def stop_gracefully(stop: asyncio.Event, work: asyncio.Future[Any], grace: float = STOP_GRACE_SECONDS) -> None:
    """Set `stop`, wait up to `grace` seconds for `work` to end, then cancel it (and wait for the cancellation).

    An exception `work` ends with propagates; so does a cancellation of `work` before the grace ran out (callers
    tell it from their own cancellation by `work.cancelled()`)."""
    stop.set()
    try:
        await asyncio.wait_for(asyncio.shield(work), grace)
    except TimeoutError:
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work


@dataclass
class PushWorkers:
    """Running workers, as the app's lifespan holds them."""

    stop_event: asyncio.Event
    task: asyncio.Task[None]

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        try:
            await stop_gracefully(self.stop_event, self.task, grace)
        except asyncio.CancelledError:
            if not self.task.cancelled():
                raise  # it is the shutdown itself being cancelled
            # the workers were cancelled before (readiness has been reporting them stopped)
        except Exception as exc:  # stopping must not fail the shutdown
            log(logger, logging.ERROR, "push workers ended with an error", error=type(exc).__name__)


def start_push_workers(gw: Gateway) -> PushWorkers | None:
    """Start `HGW_PUSH_WORKERS` workers on the running loop; None when the setting is 0."""
    count = gw.settings.push_workers
    return start_workers(
        gw,
        lambda stop, heartbeat: run_push_workers(gw, stop, count=count, heartbeat=heartbeat),
        count=count,
        name="push",
        heartbeat=PUSH_HEARTBEAT,
        logger=logger,
    )


def start_workers(
    gw: Gateway,
    run: Callable[[asyncio.Event, Heartbeat], Coroutine[object, object, None]],
    *,
    count: int,
    name: str,
    heartbeat: str,
    logger: logging.Logger,
) -> PushWorkers | None:
    """Start `count` workers (`run`, one task for all of them) on the running loop; None when `count` is 0.

    They share the heartbeat called `heartbeat`, which readiness watches together with the task."""
    if count <= 0:
        return None
    workers = start_loop(gw, run, heartbeat=heartbeat, task_name=f"hgw-{name}-workers")
    log(logger, logging.INFO, f"{name} workers started", workers=count)
    return workers


def start_loop(
    gw: Gateway,
    run: Callable[[asyncio.Event, Heartbeat], Coroutine[object, object, None]],
    *,
    heartbeat: str,
    task_name: str,
    stale_after: float | None = None,
) -> PushWorkers:
    """Start `run` as one task called `task_name` on the running loop, with a stop event and the heartbeat called
    `heartbeat` (stale after `stale_after` seconds, default `HGW_WORKER_STALE_SECONDS`) watching the task.

    The push and webhook workers (`start_workers`) and the alert evaluator share it, and so the handle's stop."""
    stop = asyncio.Event()
    beat = gw.telemetry.heartbeat(
        heartbeat, stale_after=gw.settings.worker_stale_seconds if stale_after is None else stale_after
    )
    task = asyncio.create_task(run(stop, beat), name=task_name)
    beat.task = task
    return PushWorkers(stop, task)
