"""Readiness: the database answers and is at the latest migration, and this process's workers are alive.

Push workers (when `HGW_PUSH_WORKERS` > 0) and webhook workers (when `HGW_WEBHOOK_WORKERS` > 0) must be running
and have beaten their heartbeat within `HGW_WORKER_STALE_SECONDS`; the MLLP listener (when `HGW_MLLP_PORT` is
set) must be serving. A process whose workers died still answers HTTP, so only readiness can tell a load balancer
or an orchestrator to stop sending it work (or restart it).
"""

from __future__ import annotations

from gateway.context import Gateway
from gateway.delivery.worker import PUSH_HEARTBEAT
from gateway.errors import StoreError
from gateway.store.migrate import applied_revision, current_head
from gateway.webhooks.worker import WEBHOOK_HEARTBEAT

PUSH = PUSH_HEARTBEAT
MLLP = "mllp"


async def database_ready(gw: Gateway) -> str | None:
    """None when ready, else what is wrong."""
    try:
        version = await applied_revision(gw.engine)
    except StoreError as exc:
        return str(exc)
    head = current_head()
    if version != head:
        return f"database at migration {version}, code expects {head}: run `hgw db upgrade`"
    return None


def workers_ready(gw: Gateway) -> dict[str, str | None]:
    """Each expected worker → None when alive, else what is wrong. Workers not configured are not listed."""
    telemetry = gw.telemetry
    report: dict[str, str | None] = {}
    if gw.settings.push_workers > 0:
        beat = telemetry.heartbeats.get(PUSH)
        report[PUSH] = "not started" if beat is None else beat.problem()
    if gw.settings.webhook_workers > 0:
        beat = telemetry.heartbeats.get(WEBHOOK_HEARTBEAT)
        report[WEBHOOK_HEARTBEAT] = "not started" if beat is None else beat.problem()
    if gw.settings.mllp_port is not None:
        listener = telemetry.listeners.get(MLLP)
        report[MLLP] = "not started" if listener is None else None if listener.is_serving() else "not serving"
    return report
