"""The webhook workers: asyncio loops in the gateway process, started and stopped by the app's lifespan.

`HGW_WEBHOOK_WORKERS` loops (default 1; 0 turns webhook delivery off in this process) share one relay. Any number of
gateway processes may run them against one PostgreSQL database (see `gateway.webhooks.relay`). Stopping reuses the
push workers' handle (`RunningLoop`): same grace, same cancellation.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from gateway.context import Gateway
from gateway.delivery.worker import POLL_SECONDS, run_rounds
from gateway.observability.loops import RunningLoop, start_workers
from gateway.observability.telemetry import Heartbeat
from gateway.webhooks.relay import WebhookConfig, WebhookRelay

logger = logging.getLogger("gateway.webhooks.worker")

WEBHOOK_HEARTBEAT = "webhooks"
"""The heartbeat the webhook workers of a process share (for readiness, like the push workers' one)."""


async def run_webhook_worker(
    stop: asyncio.Event, relay: WebhookRelay, *, poll: float, heartbeat: Heartbeat | None = None
) -> None:
    """Deliver due webhook events until `stop` is set; wait `poll` seconds whenever there was nothing to do.
    `heartbeat` is beaten once a loop, as the push workers do (`gw.telemetry.heartbeats["webhooks"]`)."""
    await run_rounds(relay.run_once, stop, poll=poll, heartbeat=heartbeat, name="webhook", logger=logger)


async def run_webhook_workers(
    gw: Gateway,
    stop: asyncio.Event,
    *,
    count: int,
    poll: float = POLL_SECONDS,
    config: WebhookConfig | None = None,
    heartbeat: Heartbeat | None = None,
) -> None:
    """`count` workers sharing one relay (and `heartbeat`), until `stop` is set."""
    async with WebhookRelay.open(gw, config=config) as relay:
        await asyncio.gather(
            *(run_webhook_worker(stop, relay, poll=poll, heartbeat=heartbeat) for _ in range(count))
        )


def start_webhook_workers(gw: Gateway) -> RunningLoop | None:
    """Start `HGW_WEBHOOK_WORKERS` workers on the running loop; None when the setting is 0."""
    count, poll = gw.settings.webhook_workers, gw.settings.webhook_poll_seconds
    config = WebhookConfig(lease=timedelta(seconds=gw.settings.webhook_lease_seconds))
    return start_workers(
        gw,
        lambda stop, heartbeat: run_webhook_workers(
            gw, stop, count=count, poll=poll, config=config, heartbeat=heartbeat
        ),
        count=count,
        name="webhook",
        heartbeat=WEBHOOK_HEARTBEAT,
        logger=logger,
    )
