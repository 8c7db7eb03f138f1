"""`hgw worker`: push delivery in a process of its own, without the HTTP server.

Run as many of these as the providers need, on as many machines, beside or instead of the workers inside
`hgw serve`: on PostgreSQL they share the outbox through `FOR UPDATE SKIP LOCKED` claims and fenced leases
(`gateway.delivery.push`), so adding a process adds throughput and killing one (even with SIGKILL) loses
nothing: its leases run out and another process sends those orders again with the same message id. On SQLite
run one process: claims are serialised by `BEGIN IMMEDIATE` and the file is local.

SIGTERM or SIGINT stops the process gracefully: no new claims, attempts in flight finish (up to
`STOP_GRACE_SECONDS`), then the store is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from gateway.context import Gateway
from gateway.delivery.push import PushRelay
from gateway.delivery.worker import run_push_worker
from gateway.observability.loops import STOP_GRACE_SECONDS, stop_gracefully


async def deliver_until_stopped(
    gw: Gateway, relay: PushRelay, *, count: int, poll: float, stop: asyncio.Event | None = None
) -> None:
    """Run `count` worker loops on `relay` until SIGTERM or SIGINT (or `stop`), then let attempts finish."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    work: asyncio.Future[list[None]] = asyncio.gather(
        *(run_push_worker(gw, stop, relay=relay, poll=poll) for _ in range(count))
    )
    stopped: asyncio.Future[bool] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([stopped, work], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
        await stop_gracefully(stop, work, STOP_GRACE_SECONDS)  # a worker's exception propagates
    finally:
        stopped.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work


async def run_worker_process(gw: Gateway, *, count: int, poll: float) -> None:
    """The body of `hgw worker`: one relay (a connection pool per provider, one set of breakers) shared by `count`
    loops."""
    try:
        async with PushRelay.open(gw) as relay:
            await deliver_until_stopped(gw, relay, count=count, poll=poll)
    finally:
        await gw.close()
