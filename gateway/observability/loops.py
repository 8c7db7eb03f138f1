"""Background loops in a gateway process (push and webhook workers, the alert evaluator, the audit sequencer):
started on the running event loop with a stop event and a heartbeat that readiness watches, stopped with a grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.logs import log
from gateway.observability.telemetry import Heartbeat

if TYPE_CHECKING:
    from gateway.context import Gateway

logger = logging.getLogger("gateway.observability.loops")

STOP_GRACE_SECONDS = 15.0
"""How long stopping waits for work in flight before cancelling it (leases it holds then run out)."""


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
class RunningLoop:
    """A running background loop, as the app's lifespan holds it."""

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
            log(logger, logging.ERROR, "a background loop ended with an error", error=type(exc).__name__)


def start_workers(
    gw: Gateway,
    run: Callable[[asyncio.Event, Heartbeat], Coroutine[object, object, None]],
    *,
    count: int,
    name: str,
    heartbeat: str,
    logger: logging.Logger,
) -> RunningLoop | None:
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
) -> RunningLoop:
    """Start `run` as one task called `task_name` on the running loop, with a stop event and the heartbeat called
    `heartbeat` (stale after `stale_after` seconds, default `HGW_WORKER_STALE_SECONDS`) watching the task.

    The push and webhook workers (`start_workers`) and the alert evaluator share it, and so the handle's stop."""
    stop = asyncio.Event()
    beat = gw.telemetry.heartbeat(
        heartbeat, stale_after=gw.settings.worker_stale_seconds if stale_after is None else stale_after
    )
    task = asyncio.create_task(run(stop, beat), name=task_name)
    beat.task = task
    return RunningLoop(stop, task)
