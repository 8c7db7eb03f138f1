"""`hgw worker` and `hgw bench --delivery / --faults` as subprocesses, against real databases and a real provider."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from datetime import timedelta
from typing import Any

import httpx
import pytest

from adapters.jac.writer import render_export
from conformance.parties.exports import export_rows
from gateway.bench.faults.campaign import TRUST
from gateway.bench.faults.processes import receiver_process
from gateway.context import Gateway
from gateway.delivery.push import PushConfig, PushRelay
from gateway.intake.ingest import ingest_export
from gateway.operations import admin
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.store import delivery_ledger, outbox_queue
from tests.acceptance.processes import clean_env, free_port, hgw
from tests.conftest import PG_ADMIN_DSN

PUSH_ODS = "VNPSH"


def _env(settings: Settings) -> dict[str, str]:
    return clean_env() | {
        "HGW_DATA_DIR": str(settings.data_dir),
        "HGW_DATABASE_URL": settings.effective_database_url,
        "HGW_MODE": "test",
        "HGW_LOG_LEVEL": "WARNING",
        "HGW_OUTBOUND_ALLOW_LOOPBACK": "true",  # the receiver listens on loopback
    }


async def _wait_healthy(url: str) -> None:
    async with asyncio.timeout(60), httpx.AsyncClient() as client:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)


async def _unfinished(gw: Gateway) -> int:
    async with gw.sessions() as session:
        return await delivery_ledger.unfinished_count(session, PUSH_ODS)


async def test_hgw_worker_processes_deliver_each_order_once_and_stop_on_sigterm(
    bare_gw: Gateway, settings: Settings
) -> None:
    """SQLite: one `hgw worker`. PostgreSQL: an `hgw worker` and an `hgw serve` (with its push worker) share the
    outbox, and no order goes out twice."""
    with receiver_process(PUSH_ODS, mix="ok=1", seed=1, slow=1.0) as receiver:
        await admin.add_provider(bare_gw, ods=PUSH_ODS, name="Push Homecare", mode="push", endpoint=receiver.endpoint)
        await admin.add_route(bare_gw, provider_ods=PUSH_ODS)
        await configure_sample_directory(bare_gw)
        commands = [[sys.executable, "-m", "gateway.cli", "worker", "--count", "2", "--poll", "0.1"]]
        port = free_port()
        if not bare_gw.is_sqlite:
            commands.append([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)])
        workers = [
            subprocess.Popen(  # noqa: S603
                command, env=_env(settings) | {"HGW_BASE_URL": f"http://127.0.0.1:{port}"}, stderr=subprocess.PIPE
            )
            for command in commands
        ]
        try:
            if not bare_gw.is_sqlite:
                await _wait_healthy(f"http://127.0.0.1:{port}/healthz")  # its lifespan has started its worker
            report = await ingest_export(bare_gw, TRUST, render_export(export_rows(12, seed=3)), "text/csv")
            ids = {p.message_id for p in report.prescriptions}
            assert len(ids) == 12 and None not in ids
            async with asyncio.timeout(60):
                while await _unfinished(bare_gw):
                    await asyncio.sleep(0.1)
            ledger = await receiver.ledger()
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            codes = [worker.wait(30) for worker in workers]
            errors = [worker.stderr.read().decode() if worker.stderr else "" for worker in workers]
            for worker in workers:
                if worker.stderr:
                    worker.stderr.close()
    assert set(ledger["applied"]) == ids
    assert ledger["receipts"] == 12 and ledger["duplicate_deliveries"] == 0  # no two processes sent one order
    assert codes[0] == 0, errors  # SIGTERM stops `hgw worker` cleanly
    assert all(code in (0, -signal.SIGTERM) for code in codes[1:]), errors  # uvicorn re-raises it after shutdown
    async with bare_gw.sessions() as session:
        states = {state for _, state, _ in await delivery_ledger.message_states(session, PUSH_ODS)}
    assert states == {"acknowledged"}


def _hgw(*args: str, timeout: float) -> tuple[int, dict[str, Any]]:
    done = hgw(*args, timeout=timeout)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


@pytest.mark.usefixtures("pg_template")  # PostgreSQL must be up (a failure under CI=true)
def test_bench_fault_campaign_prints_json_figures() -> None:
    """`hgw bench --faults`, small (the command and its report; the campaigns themselves are tested at size in
    tests/integration/test_fault_campaign.py and test_api_fault_campaign.py); the delivery figures are checked on
    `hgw bench --quick` (test_bench_cli)."""
    url = PG_ADMIN_DSN.replace("postgresql://", "postgresql+psycopg://", 1)
    code, report = _hgw(
        "bench", "--faults", "--postgres-url", url, "--kills", "3", "--fault-orders", "6", "--workers", "2",
        "--pg-restarts", "0", "--api-kills", "2", "--api-orders", "6", timeout=400,
    )
    print(json.dumps(report))  # the whole report, shown when the test fails
    assert code == 0, report
    assert report["database"] == "postgresql" and report["passed"] is True
    assert report["messages_accepted"] == 6 and report["lost"] == 0 and report["kills"] >= 3
    # The API campaign ran too, and the totals cover both, per kind of effect.
    assert report["worker_kills"] == report["kills"] and report["api_kills"] >= 2
    assert report["api"]["database"] == "postgresql" and report["api"]["passed"] is True
    assert set(report["effects"]) == {"push delivery", "export", "release", "acknowledgement", "dispatch", "dispense",
                                      "delivery", "webhook"}
    assert report["duplicate_effects"] == report["stuck"] == report["out_of_order"] == 0
    assert report["relay_kills"] == report["api_kills"] and report["pg_restarts"] == 0


async def test_a_worker_that_lost_its_lease_to_another_process_cannot_complete_the_order(
    bare_gw: Gateway, settings: Settings
) -> None:
    """Worker A (this process) claims and stalls past its lease; an `hgw worker` process takes the order over and
    delivers it; A's late attempt then reaches the provider (deduplicated there) but changes nothing here."""
    with receiver_process(PUSH_ODS, mix="ok=1", seed=1, slow=1.0) as receiver:
        await admin.add_provider(bare_gw, ods=PUSH_ODS, name="Push Homecare", mode="push", endpoint=receiver.endpoint)
        await admin.add_route(bare_gw, provider_ods=PUSH_ODS)
        await configure_sample_directory(bare_gw)
        report = await ingest_export(bare_gw, TRUST, render_export(export_rows(1, seed=4)), "text/csv")
        message_id = report.prescriptions[0].message_id
        async with PushRelay.open(bare_gw, config=PushConfig(lease=timedelta(seconds=1), timeout=5)) as stale:
            (job,) = await stale.claim()
            await asyncio.sleep(1.2)  # A stalls: its lease runs out
            command = [sys.executable, "-m", "gateway.cli", "worker", "--poll", "0.1"]
            other = subprocess.Popen(command, env=_env(settings))  # noqa: S603
            try:
                async with asyncio.timeout(60):
                    while await _unfinished(bare_gw):
                        await asyncio.sleep(0.1)
            finally:
                other.send_signal(signal.SIGTERM)
                assert other.wait(30) == 0
            result = await stale.deliver(job)  # A wakes up and carries on as if nothing happened
        ledger = await receiver.ledger()
    assert result.outcome == "stale"
    assert ledger["applied"] == [message_id] and ledger["receipts"] == 2  # sent twice, applied once
    async with bare_gw.sessions() as session:
        row = await outbox_queue.outbox_by_message(session, message_id)
        assert row is not None and row.state == "acknowledged"
        assert row.lease_token == job.lease_token + 1  # the other process's claim, not A's
        attempts = await outbox_queue.delivery_attempts(session, row.id or 0)
    finished = [(a.outcome, a.lease_token, a.detail) for a in attempts if a.outcome != "leased"]
    assert finished == [
        ("ok", job.lease_token + 1, None),
        ("ok", job.lease_token, "lease lost: not applied"),
    ]
