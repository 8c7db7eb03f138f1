"""The sequencer loop, started by the app's lifespan when `HGW_AUDIT_SEQUENCE_SECONDS` > 0.

Every server process may run it: one sequencer at a time gets the turn (`gateway.audit.sequencer`), the others find
it taken and wait for the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway.audit.sequencer import sequence
from gateway.context import Gateway
from gateway.logs import log
from gateway.observability.loops import RunningLoop, start_loop
from gateway.observability.telemetry import Heartbeat

logger = logging.getLogger("gateway.audit")

HEARTBEAT = "audit-sequencer"


async def run_sequencer(gw: Gateway, stop: asyncio.Event, *, interval: float, heartbeat: Heartbeat) -> None:
    while not stop.is_set():
        heartbeat.beat()
        try:
            await sequence(gw)
        except Exception as exc:  # the next interval tries again; verify and the audit-lag alert show the backlog
            log(logger, logging.ERROR, "audit sequencing failed", error=type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def start_audit_sequencer(gw: Gateway) -> RunningLoop | None:
    """Start the loop on the running event loop; None when the interval setting is 0."""
    interval = gw.settings.audit_sequence_seconds
    if interval <= 0:
        return None
    return start_loop(
        gw,
        lambda stop, beat: run_sequencer(gw, stop, interval=interval, heartbeat=beat),
        heartbeat=HEARTBEAT,
        task_name="hgw-audit-sequencer",
        stale_after=max(gw.settings.worker_stale_seconds, 3 * interval),
    )
