"""Push latency under an offered load, for `hgw bench --delivery`: an open-loop generator, not back to back.

Trusts post one-prescription exports to the gateway on a fixed schedule (`rate` a second, for `seconds`), each at
its planned time whether or not earlier posts have been answered, as independent trusts do. Each message's latency
runs from its *planned* send time to the provider's first receipt of the order, so a gateway that falls behind
cannot hide it by slowing the generator down (no coordinated omission). Two `hgw worker` processes deliver to a
loopback provider (the fault campaign's receiver, answering `ok`); the gateway runs as `SERVER_PROCESSES` server
processes. Issue 19's figure is the p99 at 1,000 messages a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from typing import Any

import httpx

from adapters.jac.writer import render_export
from conformance.parties.exports import export_rows
from gateway.bench.faults.processes import WorkerPool, receiver_process
from gateway.bench.faults.worker import WorkerSpec
from gateway.context import Gateway
from gateway.operations import admin
from gateway.simulate.directory import configure_sample_directory
from gateway.simulate.parties import party_client, register_party

PUSH_ODS = "VNOPL"
WORKERS = 2
CSV = {"Content-Type": "text/csv"}
ANSWER_SECONDS = 60.0  # a post not answered by then counts as unanswered


def worker_pool(gw: Gateway, processes: int, *, poll: float, database_url: str | None = None) -> WorkerPool:
    """`processes` `hgw worker` processes on the bench's database, or reaching it at `database_url` (started by
    `fill`)."""
    spec = WorkerSpec(
        database_url=database_url or gw.settings.effective_database_url, data_dir=str(gw.settings.data_dir), loops=1,
        poll=poll,
        timeout=10.0, lease=60.0, batch=20, concurrency=8,
    )
    return WorkerPool(spec, processes)


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile of sorted `values` (nearest rank)."""
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def push_open_loop(gw: Gateway, urls: list[str], *, rate: float, seconds: float) -> dict[str, Any]:
    """Offer `rate` messages a second for `seconds` to the gateway servers at `urls`; latency percentiles."""
    count = max(1, round(rate * seconds))
    warmups = len(urls)
    bodies = [render_export(export_rows(1, seed=n, rx_prefix=f"O{n:06d}")) for n in range(count + warmups)]
    with receiver_process(PUSH_ODS, mix="ok=1", seed=1, slow=1.0) as receiver:
        await admin.add_provider(gw, ods=PUSH_ODS, name="Bench Open Loop", mode="push", endpoint=receiver.endpoint)
        await admin.add_route(gw, provider_ods=PUSH_ODS)
        await configure_sample_directory(gw)
        key = await register_party(gw, "trust", "RBA")
        pool = worker_pool(gw, WORKERS, poll=0.05)
        pool.fill()
        try:
            async with contextlib.AsyncExitStack() as stack:
                trusts = [
                    await stack.enter_async_context(party_client(url, key, timeout=ANSWER_SECONDS)) for url in urls
                ]
                for trust in trusts:
                    await trust.get("/FHIR/R4/metadata")  # each client's token, before the load
                # One order end to end through each server first: connections, each server's first export and the
                # workers' imports, outside the measurement.
                warm = [await _post(trust, body) for trust, body in zip(trusts, bodies, strict=False)]
                if None in warm:
                    raise RuntimeError("the gateway did not accept a warm-up export")
                await receipts(receiver.ledger, {m for m in warm if m is not None}, timeout=120)
                planned, accepted, late = await _offer(trusts, bodies[warmups:], rate)
                received = await receipts(receiver.ledger, set(planned), timeout=max(120.0, count / 5))
        finally:
            pool.stop()
    latencies = sorted((received[m] - t) * 1000 for m, t in planned.items())
    # Where the time went: until the gateway answered the trust's POST (ingest), and from that answer to the
    # provider's receipt (push; negative when the order reached the provider before the answer reached the trust).
    ingest = sorted((accepted[m] - t) * 1000 for m, t in planned.items())
    push = sorted((received[m] - accepted[m]) * 1000 for m in planned)
    unanswered = count - len(planned)
    return {
        "offered_per_second": rate,
        "messages": count,
        # Posts with no acceptance within ANSWER_SECONDS (the gateway fell behind): not in the percentiles, which
        # then describe only what got through, so p99 is given only when at most 1% went unanswered.
        "unanswered": unanswered,
        "worker_processes": WORKERS,
        "server_processes": len(urls),
        "generator_late_ms_max": round(late * 1000, 1),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies and unanswered <= count // 100 else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "accepted_p50_ms": round(statistics.median(ingest), 1) if ingest else None,
        "accepted_p99_ms": round(percentile(ingest, 0.99), 1) if ingest else None,
        "accepted_to_receipt_p50_ms": round(statistics.median(push), 1) if push else None,
        "accepted_to_receipt_p99_ms": round(percentile(push, 0.99), 1) if push else None,
    }


async def _post(trust: httpx.AsyncClient, body: bytes) -> str | None:
    """The order's message id once the gateway accepted the export; None when it did not answer in time or
    refused it (an open-loop generator keeps offering whatever happens to earlier posts)."""
    try:
        response = await trust.post("/api/v1/exports", content=body, headers=CSV)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    message_id: str | None = response.json()["prescriptions"][0]["message_id"]
    return message_id


async def _offer(
    trusts: list[httpx.AsyncClient], bodies: list[bytes], rate: float
) -> tuple[dict[str, float], dict[str, float], float]:
    """Post each body at its planned time (wall clock, as the receiver records receipts); message id → planned
    time, message id → when the gateway's answer came, and how late the generator itself was at worst (it must stay
    small for the figure to mean anything)."""
    planned: dict[str, float] = {}
    accepted: dict[str, float] = {}
    late = 0.0
    start = time.time() + 0.05

    async def one(n: int, at: float) -> None:
        message_id = await _post(trusts[n % len(trusts)], bodies[n])
        if message_id is not None:
            planned[message_id] = at
            accepted[message_id] = time.time()

    tasks = []
    for n in range(len(bodies)):
        at = start + n / rate
        delay = at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        late = max(late, time.time() - at)
        tasks.append(asyncio.create_task(one(n, at)))
    await asyncio.gather(*tasks)
    return planned, accepted, late


async def receipts(ledger: Any, ids: set[str], *, timeout: float) -> dict[str, float]:
    """The receiver's first receipt time of each message, once it has received every one of `ids`."""
    async with asyncio.timeout(timeout):
        while True:
            first: dict[str, float] = (await ledger(times=True))["first_receipt"]
            if ids <= set(first):
                return first
            await asyncio.sleep(0.05)
