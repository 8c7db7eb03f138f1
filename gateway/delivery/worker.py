"""The push workers: asyncio loops in the gateway process, started and stopped by the app's lifespan.

`HGW_PUSH_WORKERS` loops (default 1; 0 turns push delivery off in this process) share one relay: a connection pool
per provider and one set of circuit breakers. Any number of gateway processes may run workers against one PostgreSQL
database; claims never hand the same order to two of them (see `gateway.delivery.push`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from gateway.context import Gateway
from gateway.delivery.push import PushRelay
from gateway.logs import log
from gateway.observability.loops import RunningLoop, start_workers
from gateway.observability.telemetry import Heartbeat

logger = logging.getLogger("gateway.delivery.worker")

POLL_SECONDS = 1.0
"""How long an idle worker waits before looking for due orders again."""
MAX_BACKOFF_SECONDS = 30.0
"""The longest wait after repeated failures of the relay itself (the database restarting, say)."""
PUSH_HEARTBEAT = "push"
"""The heartbeat the push workers of a process share (`gateway.operations.health` reads it)."""


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


def start_push_workers(gw: Gateway) -> RunningLoop | None:
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


