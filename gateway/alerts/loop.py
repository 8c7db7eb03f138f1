"""The alert evaluator loop, started by the app's lifespan when `HGW_ALERT_INTERVAL_SECONDS` > 0.

The first evaluation comes one interval after start (a restarting fleet does not evaluate all at once), then one
per interval. Every process may run it: the store makes each episode open, resolve and notify once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from gateway.alerts.evaluate import evaluate
from gateway.alerts.notify import Notifier, notifiers_from_settings
from gateway.alerts.risk_watch import watch
from gateway.context import Gateway
from gateway.logs import log
from gateway.observability.loops import RunningLoop, start_loop
from gateway.observability.telemetry import Heartbeat

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
        try:
            await watch(gw, notifiers)  # patients at risk: episodes, events, notices (docs/patient-safety.md)
        except Exception as exc:
            log(logger, logging.ERROR, "at-risk evaluation failed", error=type(exc).__name__)


def start_alert_evaluator(gw: Gateway) -> RunningLoop | None:
    """Start the loop on the running event loop; None when the interval setting is 0.

    The handle is the workers' (`gateway.delivery.worker`): the same stop, grace and cancellation."""
    interval = gw.settings.alert_interval_seconds
    if interval <= 0:
        return None
    notifiers = notifiers_from_settings(gw.settings, gw.http_transport)  # a misconfiguration fails the start
    evaluator = start_loop(
        gw,
        lambda stop, beat: run_evaluator(gw, stop, interval=interval, notifiers=notifiers, heartbeat=beat),
        heartbeat=HEARTBEAT,
        task_name="hgw-alerts",
        stale_after=max(gw.settings.worker_stale_seconds, 3 * interval),
    )
    log(logger, logging.INFO, "alert evaluator started", interval=interval, channels=[n.name for n in notifiers])
    return evaluator
