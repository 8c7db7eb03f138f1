"""/readyz reports the database and this process's workers; /healthz stays a bare liveness answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.observability.telemetry import Heartbeat
from gateway.settings import Settings
from gateway.wiring import build_gateway
from tests.conftest import serve


async def _ready(base_url: str) -> tuple[int, dict[str, object]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}  # liveness, whatever readiness says
        r = await client.get("/readyz")
        return r.status_code, r.json()


@pytest.mark.parametrize("dies", ["push", "webhooks"])
async def test_ready_while_workers_run_and_not_once_some_stop(settings: Settings, dies: str) -> None:
    gw = build_gateway(settings.model_copy(update={"push_workers": 2, "webhook_workers": 1}))
    try:
        async with serve(gw) as url:
            workers = {"push": "ok", "webhooks": "ok"}
            assert await _ready(url) == (200, {"status": "ready", "database": "ok", "workers": workers})
            beat = gw.telemetry.heartbeats[dies]
            assert beat.task is not None
            beat.task.cancel()  # the workers die (the HTTP side keeps answering)
            with pytest.raises(asyncio.CancelledError):
                await beat.task
            status, body = await _ready(url)
            assert status == 503
            workers[dies] = "stopped (cancelled)"
            assert body == {"status": "unavailable", "database": "ok", "workers": workers}
    finally:
        await gw.close()


async def test_the_mllp_listener_counts_when_configured(settings: Settings) -> None:
    gw = build_gateway(
        settings.model_copy(update={"push_workers": 0, "webhook_workers": 0, "mllp_port": 0, "mllp_trust_ods": "RBA"})
    )
    try:
        async with serve(gw) as url:
            assert await _ready(url) == (200, {"status": "ready", "database": "ok", "workers": {"mllp": "ok"}})
            listener = gw.telemetry.listeners["mllp"]
            assert isinstance(listener, asyncio.Server)
            listener.close()
            assert await _ready(url) == (
                503,
                {"status": "unavailable", "database": "ok", "workers": {"mllp": "not serving"}},
            )
    finally:
        await gw.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def unreachable_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/hgw.sqlite3"
    else:
        yield "postgresql+psycopg://postgres@127.0.0.1:1/hgw"  # nothing listens on port 1


async def test_not_ready_when_the_database_is_unreachable(unreachable_url: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=unreachable_url,
        mode="test",
        push_workers=0,
        webhook_workers=0,
        metrics_token="t0k",
    )
    gw = build_gateway(settings)
    try:
        async with serve(gw) as url:
            status, body = await _ready(url)
            # The scrape token needs no database: the process's own metrics stay readable, the store says down.
            async with httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer t0k"}) as client:
                metrics = await client.get("/metrics")
    finally:
        await gw.close()
    assert metrics.status_code == 200
    assert "hgw_store_up 0.0" in metrics.text.splitlines()
    assert "# TYPE hgw_queue_depth gauge" not in metrics.text
    assert 'hgw_http_request_duration_seconds_count{method="GET",route="/readyz",status="503"} 1.0' in metrics.text
    assert status == 503
    assert body["status"] == "unavailable" and body["workers"] == {}
    assert str(body["database"]).startswith("database unavailable or not migrated (OperationalError)")


def test_a_heartbeat_goes_stale_without_beats() -> None:
    now = [100.0]
    beat = Heartbeat("push", stale_after=30, clock=lambda: now[0])
    assert beat.problem() is None
    now[0] += 29
    assert beat.problem() is None
    now[0] += 2
    assert beat.problem() == "no heartbeat for 31 s (stale after 30 s)"
    beat.beat()
    assert beat.problem() is None and beat.age == 0
