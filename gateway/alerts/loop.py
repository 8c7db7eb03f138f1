"""The alert evaluator loop, started by the app's lifespan when `HGW_ALERT_INTERVAL_SECONDS` > 0.

The first evaluation comes one interval after start (a restarting fleet does not evaluate all at once), then one
per interval. Every process may run it: the store makes each episode open, resolve and notify once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.alerts.evaluate import evaluate
from gateway.alerts.notify import Notifier, notifiers_from_settings
from gateway.logs import log
from gateway.observability.telemetry import Heartbeat
from gateway.services.context import Gateway

logger = logging.getLogger("gateway.alerts")

HEARTBEAT = "alerts"


async def run_evaluator(
    gw: Gateway, stop: asyncio.Event, *, interval: float, notifiers: Sequence[Notifier], heartbeat: Heartbeat
) -> None:
    while not stop.is_set():
        heartbeat.beat()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        try:
            await evaluate(gw, notifiers)
        except Exception as exc:  # the next interval tries again
            log(logger, logging.ERROR, "alert evaluation failed", error=type(exc).__name__)


@dataclass
class AlertEvaluator:
    stop_event: asyncio.Event
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.stop_event.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 15.0)
        except TimeoutError:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def start_alert_evaluator(gw: Gateway) -> AlertEvaluator | None:
    """Start the loop on the running event loop; None when the interval setting is 0."""
    interval = gw.settings.alert_interval_seconds
    if interval <= 0:
        return None
    notifiers = notifiers_from_settings(gw.settings, gw.http_transport)  # a misconfiguration fails the start
    stop = asyncio.Event()
    beat = gw.telemetry.heartbeat(HEARTBEAT, stale_after=max(gw.settings.worker_stale_seconds, 3 * interval))
    task = asyncio.create_task(
        run_evaluator(gw, stop, interval=interval, notifiers=notifiers, heartbeat=beat), name="hgw-alerts"
    )
    beat.task = task
    log(logger, logging.INFO, "alert evaluator started", interval=interval, channels=[n.name for n in notifiers])
    return AlertEvaluator(stop, task)
