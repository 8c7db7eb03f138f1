"""A campaign worker process: the real push relay and worker loops, with the campaign's two hooks.

The campaign forks these from a server that has already imported this module (`gateway.bench.faults.zygote`), so a
new worker is delivering within milliseconds of the previous one being killed, and the kills land in claims,
posts and commits rather than in Python's imports. What runs is `hgw worker`'s code (`gateway.delivery.process`)
with a short lease and timeout, plus:

- every request carries `X-Hgw-Worker: <pid>`, so the provider's log can be matched to a process;
- a provider answer marked `X-Hgw-Fault: kill-before-commit` (a full 200 `ok`, already applied by the provider)
  makes this process SIGKILL itself at its next database COMMIT: the answer is in, the transaction that would
  record it has run its statements, and it is never committed. That is the crash window the issue names;
- one marked `stall-after-answer` freezes the whole process (a blocking sleep: no event loop, like a long GC
  pause or a swapped-out VM) for longer than its lease, with the answer in hand. Another worker takes the
  order over meanwhile; when this one wakes, its finish must be fenced. While frozen it leaves a marker file
  named after its pid in `stall_dir`, so that the campaign does not kill it and lose the fenced finish.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import signal
import ssl
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from gateway.bench.faults.receiver import FAULT_HEADER
from gateway.delivery.breaker import BreakerBoard
from gateway.delivery.policy import RetryPolicy
from gateway.delivery.pools import ProviderPools
from gateway.delivery.process import deliver_until_stopped
from gateway.delivery.push import PushConfig, PushRelay
from gateway.delivery.tls import ProviderTls
from gateway.settings import Settings
from gateway.wiring import build_gateway


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """Everything a forked worker needs; sent to the fork server as JSON."""

    database_url: str
    data_dir: str
    loops: int = 2
    poll: float = 0.05
    timeout: float = 0.4
    lease: float = 1.5
    batch: int = 8
    concurrency: int = 8
    breaker_reset: float = 0.3
    log_file: str | None = None
    stall_dir: str | None = None
    stall_seconds: float = 3.5


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The CA bundle loaded once, in the fork server: loading it costs each new worker about 50 ms otherwise."""
    return httpx.create_ssl_context()


def warm() -> None:
    """Import what a worker would import lazily on its first round, and load the CA bundle, so that the fork
    server (which imports this module) hands every worker a ready interpreter."""
    import aiosqlite  # noqa: F401
    import anyio._backends._asyncio  # noqa: F401
    import h11  # noqa: F401
    import httpcore  # noqa: F401
    import psycopg  # noqa: F401
    import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401
    import sqlalchemy.dialects.sqlite.aiosqlite  # noqa: F401

    _tls_context()
    # Everything imported so far lives as long as the process: keep the collector from walking it in every
    # forked worker, which would copy most of the server's memory page by page (copy-on-write).
    gc.freeze()


class _Doom:
    """Set when the provider asked for a kill: the next COMMIT in this process does not happen."""

    armed = False


class WorkerFaultTransport(httpx.AsyncBaseTransport):
    """Reads a marked answer whole, then arms the kill at the next COMMIT or freezes the process."""

    def __init__(self, inner: httpx.AsyncBaseTransport, spec: WorkerSpec) -> None:
        self.inner = inner
        self.spec = spec

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        fault = response.headers.get(FAULT_HEADER)
        if fault is None:
            return response
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        if fault == "kill-before-commit":
            _Doom.armed = True
        elif fault == "stall-after-answer":
            _freeze(self.spec)
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _freeze(spec: WorkerSpec) -> None:
    marker = Path(spec.stall_dir) / str(os.getpid()) if spec.stall_dir else None
    if marker is not None:
        marker.touch()
    try:
        time.sleep(spec.stall_seconds)  # blocking on purpose: the whole process stops, as in a long pause
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


def _kill_at_commit(_connection: Any) -> None:
    if _Doom.armed:
        os.kill(os.getpid(), signal.SIGKILL)


def worker_main(spec: WorkerSpec) -> None:
    """The forked process's target."""
    logging.basicConfig(
        filename=spec.log_file, level=logging.WARNING, format=f"%(asctime)s {os.getpid()} %(name)s %(message)s"
    )
    if spec.log_file is None:
        logging.disable(logging.CRITICAL)
    asyncio.run(_run(spec))


async def _run(spec: WorkerSpec) -> None:
    settings = Settings(
        data_dir=Path(spec.data_dir), database_url=spec.database_url, mode="test", push_workers=0,
        outbound_allow_loopback=True,
    )
    gw = build_gateway(settings)
    event.listen(gw.engine.sync_engine, "commit", _kill_at_commit)
    config = PushConfig(
        batch=spec.batch,
        concurrency=spec.concurrency,
        timeout=spec.timeout,
        lease=timedelta(seconds=spec.lease),
        default_policy=RetryPolicy(max_attempts=10_000, base=timedelta(seconds=0.05), cap=timedelta(seconds=0.5)),
    )
    breakers = BreakerBoard(gw.clock, reset_after=timedelta(seconds=spec.breaker_reset))
    # The relay's own per-provider pools, under the gateway's outbound policy, each exchange watched for faults.
    pools = ProviderPools(
        ProviderTls(None), gw.outbound, gw.resolver, connections=spec.concurrency, verify=_tls_context(),
        wrap=lambda inner: WorkerFaultTransport(inner, spec), headers={"X-Hgw-Worker": str(os.getpid())},
    )
    try:
        relay = PushRelay(gw, pools, config=config, breakers=breakers)
        await deliver_until_stopped(gw, relay, count=spec.loops, poll=spec.poll)
    finally:
        await pools.aclose()
        await gw.close()


warm()
