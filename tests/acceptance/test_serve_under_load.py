"""`hgw serve` as a process under hostile load: /healthz keeps answering while the heaviest requests run, and SIGTERM
stops it within its grace period even with a request still working.

The server is a real subprocess, so the /healthz latency measured here is the server's alone (the test's own work
runs in another process). The assertion is generous (HEALTHZ_BOUND, for busy CI machines); the real figure is
printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx
from sqlalchemy import create_engine, text

from adapters.hl7v2.writer import render_message
from gateway.operations import admin
from gateway.security.client_auth import ClientKey
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.simulate.parties import party_client, register_party
from gateway.store.migrate import upgrade
from gateway.wiring import build_gateway
from tests.acceptance.processes import HGW, clean_env, free_port
from tests.integration.helpers import export
from tests.paths import DATA

HEALTHZ_BOUND = 2.0  # seconds asserted; the design target is 0.1 s (see the printed figure)
GRACE = 2  # HGW_SHUTDOWN_GRACE_SECONDS for this server
ORDER = (DATA / "hl7v2" / "valid_order" / "input.hl7").read_bytes().rstrip(b"\r\n")


async def _prepare(data_dir: Path, database_url: str) -> ClientKey:
    upgrade(database_url)
    gw = build_gateway(Settings(data_dir=data_dir, database_url=database_url, mode="test"))
    try:
        await admin.add_provider(gw, ods="VNFKT", name="Five Star Homecare Leeds Ltd", mode="pull")
        await admin.add_route(gw, provider_ods="VNFKT")
        await configure_sample_directory(gw)  # the sample exports' prescriptions are accepted, signed and stored
        return await register_party(gw, "trust", "RBA")
    finally:
        await gw.close()


def _start(tmp_path: Path, database_url: str, port: int, log: BinaryIO) -> subprocess.Popen[bytes]:
    env = clean_env() | {
        "HGW_DATA_DIR": str(tmp_path / "data"),
        "HGW_DATABASE_URL": database_url,
        "HGW_MODE": "test",
        "HGW_BASE_URL": f"http://127.0.0.1:{port}",
        "HGW_SHUTDOWN_GRACE_SECONDS": str(GRACE),
    }
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [*HGW, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )


async def _until_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=5) as client, asyncio.timeout(120):
        while True:
            assert proc.poll() is None, "hgw serve exited"
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)  # polling a starting process: there is nothing to wait on


async def _stalls_while(base: str, work: asyncio.Task[httpx.Response]) -> list[float]:
    """/healthz latencies, polled every 20 ms until `work` is done."""
    stalls: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while not work.done():
            started = time.perf_counter()
            assert (await client.get("/healthz")).status_code == 200
            stalls.append(time.perf_counter() - started)
            await asyncio.wait([work], timeout=0.02)
    return stalls


def _processes_of(data_dir: Path) -> set[int]:
    """Processes whose environment names `data_dir`: the server, its fork server and their children."""
    marker = f"HGW_DATA_DIR={data_dir}".encode()
    found = set()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if marker in environ.read_bytes().split(b"\0"):
                found.add(int(environ.parent.name))
    return found


async def _until_none_left(data_dir: Path) -> None:
    async with asyncio.timeout(60):
        while _processes_of(data_dir):
            await asyncio.sleep(0.1)


def _count(database_url: str, table: str) -> int:
    engine = create_engine(database_url.replace("+aiosqlite", ""))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)  # noqa: S608
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Server:
    base: str
    key: ClientKey
    proc: subprocess.Popen[bytes]
    database_url: str
    data_dir: Path


@contextlib.asynccontextmanager
async def _server(tmp_path: Path) -> AsyncIterator[Server]:
    """`hgw serve` on a prepared SQLite store, healthy; killed at the end if it is still running."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.sqlite3'}"
    key = await _prepare(tmp_path / "data", database_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "serve.log").open("wb") as log:
        proc = _start(tmp_path, database_url, port, log)
    try:
        await _until_healthy(base, proc)
        yield Server(base, key, proc, database_url, tmp_path / "data")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def test_healthz_answers_during_heavy_requests_and_sigterm_stops_within_grace(tmp_path: Path) -> None:
    async with _server(tmp_path) as server:
        base, proc, database_url = server.base, server.proc, server.database_url
        nte = ORDER + b"\r" + b"\r".join(b"NTE|1||note %d" % i for i in range(200_000)) + b"\r"
        bad_batch = "".join(
            render_message([("MSH", {9: ("RDE", "O11", "RDE_O11"), 10: f"M{i}", 12: "2.5"})]) for i in range(3_000)
        ).encode()
        async with party_client(base, server.key, timeout=600) as trust:
            heavy = [
                (export(600, seed=91), "text/csv"),
                (nte, "x-application/hl7-v2+er7"),
                (bad_batch, "x-application/hl7-v2+er7"),
            ]
            figures = {}
            for body, media_type in heavy:
                work = asyncio.create_task(
                    trust.post("/api/v1/exports", content=body, headers={"Content-Type": media_type})
                )
                stalls = await _stalls_while(base, work)
                assert (await work).status_code in (200, 422)
                figures[f"{media_type} {len(body)} bytes"] = (round(max(stalls) * 1000, 1), len(stalls))
            print(f"\nlongest /healthz (ms, polls) while each heavy request ran: {figures}")  # noqa: T201
            assert all(longest < HEALTHZ_BOUND * 1000 for longest, _ in figures.values()), figures

            # A request still working when SIGTERM arrives: the server exits within its grace period regardless.
            received, stored = _count(database_url, "inbound_payload"), _count(database_url, "prescription")
            assert stored == 600
            work = asyncio.create_task(
                trust.post("/api/v1/exports", content=export(3_000, seed=92), headers={"Content-Type": "text/csv"})
            )
            async with asyncio.timeout(120):
                while _count(database_url, "inbound_payload") == received:  # stored before parsing: now it is working
                    await asyncio.sleep(0.05)
            sent = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, GRACE + 30)
            stopped = time.perf_counter() - sent
            print(f"SIGTERM to exit: {stopped:.2f} s (grace {GRACE} s)")  # noqa: T201
            assert code in (0, -signal.SIGTERM) and stopped < GRACE + 30  # uvicorn ends by re-raising SIGTERM
            with contextlib.suppress(httpx.HTTPError):
                await work  # cut off by the exit
        # The export was being handled in a child process (gateway/intake/isolated.py): it went with the server,
        # and its transaction with it (unless it was committed within the grace period: all of it, never a part).
        await _until_none_left(server.data_dir)
        assert _count(database_url, "prescription") in (stored, stored + 3_000)


async def test_a_killed_server_leaves_no_child_storing_its_export(tmp_path: Path) -> None:
    async with _server(tmp_path) as server:
        serving = _processes_of(server.data_dir)  # the server and its fork server
        async with party_client(server.base, server.key, timeout=600) as trust:
            work = asyncio.create_task(
                trust.post("/api/v1/exports", content=export(5_000, seed=93), headers={"Content-Type": "text/csv"})
            )
            async with asyncio.timeout(120):
                while not _processes_of(server.data_dir) - serving:  # the export's own process
                    await asyncio.sleep(0.02)
            server.proc.kill()
            server.proc.wait(10)
            with contextlib.suppress(httpx.HTTPError):
                await work
        await _until_none_left(server.data_dir)
        assert _count(server.database_url, "prescription") == 0
