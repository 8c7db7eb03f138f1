"""`hgw bench --delivery`: the delivery figures of issue 7, measured on a scratch PostgreSQL database.

- push latency: a trust POSTs a one-prescription export to the gateway over HTTP; the time until the provider
  (the campaign's receiver process, answering `ok`) receives the order, p50 and p99. One worker process,
  polling every `PUSH_POLL` seconds when idle: the poll interval bounds the latency from below.
- poll + acknowledge: pull providers release orders with `Task/$release` (200 at a time) and acknowledge them,
  orders queued beforehand, orders/s: over real HTTP with `BATCH_CLIENTS` concurrent provider clients each
  acknowledging a release with one FHIR batch (`POST /FHIR/R4`, one `$process-message` entry per order), spread
  over `SERVER_PROCESSES` gateway server processes and over one; the same at the service layer (no HTTP, one
  caller); and over HTTP, one order at a time as EPS providers work, `$release` of one order by id and one
  `$process-message` per order (`gateway.bench.single_message`, 16 in flight over `SERVER_PROCESSES` processes).
- push throughput with 1 and 2 worker processes: orders queued beforehand, time until all are acknowledged.
- push latency at 1,000 messages a second offered by an open-loop generator (`gateway.bench.open_loop`).

Every figure is measured, never assumed; sizes are parameters so a test can run it small.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import socket
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from adapters.jac.writer import render_export
from conformance.parties import provider_messages
from conformance.parties.exports import export_rows
from gateway.app import create_app, settle_heap
from gateway.bench.faults.processes import receiver_process
from gateway.bench.open_loop import percentile, push_open_loop, receipts, worker_pool
from gateway.bench.single_message import IN_FLIGHT, single_message_figures
from gateway.context import Gateway
from gateway.delivery import acknowledgements, release
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.intake.ingest import ingest_export
from gateway.operations import admin
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.simulate.parties import party_client, register_party
from gateway.store import delivery_ledger
from gateway.store.migrate import upgrade
from gateway.store.scratch import PostgresUnreachable, scratch_database
from gateway.wiring import build_gateway

PUSH_ODS = "VNPSH"
PULL_ODS = "VNFKT"
PUSH_POLL = 0.05
TRUST = Principal("bench", Role.TRUST, "RBA", frozenset(ROLE_SCOPES[Role.TRUST]))
PULL = Principal("bench-provider", Role.PROVIDER, PULL_ODS, frozenset(ROLE_SCOPES[Role.PROVIDER]))
FHIR = {"Content-Type": "application/fhir+json"}
BATCH_CLIENTS = 4
SERVER_PROCESSES = 2  # gateway instances behind a load balancer, as docs/delivery.md deploys them
OPEN_LOOP_RATE = 1000  # messages a second offered to push (issue 19)
SERVER_START_SECONDS = 180  # a loaded machine takes long to import the gateway in a new process


def delivery_figures(
    postgres_url: str, *, latency_samples: int, poll_orders: int, push_orders: int, open_loop_seconds: float
) -> dict[str, Any]:
    """All the figures, each on its own scratch database next to `postgres_url`'s."""
    try:
        push_latency = _scratch(postgres_url, _push_latency, latency_samples)
    except PostgresUnreachable as exc:
        return {"skipped": f"PostgreSQL unreachable: {exc}".strip()}
    return {
        "push_latency": push_latency,
        "poll_and_acknowledge": _scratch(postgres_url, _poll_and_ack, poll_orders),
        "push_throughput": {
            f"{n}_worker_process{'es' if n > 1 else ''}": _scratch(postgres_url, _push_throughput(n), push_orders)
            for n in (1, 2)
        },
        "push_open_loop": _scratch(postgres_url, _open_loop(open_loop_seconds), OPEN_LOOP_RATE),
    }


def _open_loop(seconds: float) -> Any:
    async def measure(gw: Gateway, rate: int) -> dict[str, Any]:
        with server_processes(gw.settings, SERVER_PROCESSES) as urls:
            return await push_open_loop(gw, urls, rate=rate, seconds=seconds)

    return measure


def _scratch(postgres_url: str, work: Any, size: int) -> dict[str, Any]:
    """`work(gw, size)` on a gateway over a scratch database next to `postgres_url`'s, dropped afterwards."""
    with scratch_database(postgres_url, "hgw_bench") as url:
        return asyncio.run(_measure(url, work, size))


async def _measure(url: str, work: Any, size: int) -> dict[str, Any]:
    await asyncio.to_thread(upgrade, url)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), database_url=url, mode="test", port=0, push_workers=0, release_max=200,
            outbound_allow_loopback=True,
            rate_per_minute=10**7, rate_burst=10**6,
        )
        gw = build_gateway(settings)
        try:
            figures: dict[str, Any] = await work(gw, size)
            return figures
        finally:
            await gw.close()


@asynccontextmanager
async def _served(gw: Gateway) -> AsyncIterator[str]:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_app(gw), host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    configured = gw.settings
    gw.settings = configured.served_at("127.0.0.1", port)  # the token audience: the address it listens on
    try:
        yield gw.settings.public_base_url
    finally:
        gw.settings = configured  # the server processes started later listen elsewhere
        server.should_exit = True
        await task


async def _push_latency(gw: Gateway, samples: int) -> dict[str, Any]:
    with receiver_process(PUSH_ODS, mix="ok=1", seed=1, slow=1.0) as receiver:
        await admin.add_provider(gw, ods=PUSH_ODS, name="Bench Push", mode="push", endpoint=receiver.endpoint)
        await admin.add_route(gw, provider_ods=PUSH_ODS)
        await configure_sample_directory(gw)
        trust_key = await register_party(gw, "trust", "RBA")
        pool = worker_pool(gw, 1, poll=PUSH_POLL)
        pool.fill()
        posted: dict[str, float] = {}
        try:
            async with _served(gw) as base_url, party_client(base_url, trust_key) as trust:
                await trust.get("/FHIR/R4/metadata")  # the token, outside the measurement
                for n in range(samples + 1):
                    body = render_export(export_rows(1, seed=n, rx_prefix=f"L{n:05d}"))
                    sent = time.time()
                    response = await trust.post("/api/v1/exports", content=body, headers={"Content-Type": "text/csv"})
                    response.raise_for_status()
                    if n:  # the first one warms the worker's connections
                        posted[response.json()["prescriptions"][0]["message_id"]] = sent
                    await asyncio.sleep(0.1)
                received = await receipts(receiver.ledger, set(posted), timeout=120)
        finally:
            pool.stop()
    latencies = sorted((received[m] - t) * 1000 for m, t in posted.items())
    return {
        "samples": len(latencies),
        "worker_poll_seconds": PUSH_POLL,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(latencies[-1], 1),
    }


async def _queue(
    gw: Gateway, provider_ods: str, mode: str, orders: int, endpoint: str | None = None, *, prefix: str = "Q"
) -> list[str]:
    """`orders` orders queued for the provider (added with its route unless it exists); their short-form ids."""
    if prefix == "Q":
        await admin.add_provider(gw, ods=provider_ods, name="Bench", mode=mode, endpoint=endpoint)
        await admin.add_route(gw, provider_ods=provider_ods)
        await configure_sample_directory(gw)
    ids: list[str] = []
    for start in range(0, orders, 200):
        rows = export_rows(min(200, orders - start), seed=start, rx_prefix=f"{prefix}{start:06d}")
        report = await ingest_export(gw, TRUST, render_export(rows), "text/csv")
        ids += [p.short_form_id for p in report.prescriptions if p.short_form_id]
    return ids


@contextlib.contextmanager
def server_processes(settings: Settings, count: int) -> Iterator[list[str]]:
    """`count` gateway server processes (as `hgw serve` runs one) on the bench's database; yields their base URLs.

    The providers are other machines in real life: the gateway runs in its own processes here so that the bench's
    clients do not share its interpreter.
    """
    context = multiprocessing.get_context("spawn")
    processes = []
    pipes = []
    urls = []
    try:
        for _ in range(count):  # all started before any is waited for: they import the gateway side by side
            parent, child = context.Pipe()
            # Not daemonic: a server process starts a child for each heavy export (gateway/intake/isolated.py).
            process = context.Process(target=_serve_process, args=(settings.model_dump_json(), child))
            process.start()
            processes.append(process)
            pipes.append(parent)
        for parent in pipes:
            if not parent.poll(SERVER_START_SECONDS):
                raise RuntimeError("a gateway server process did not start")
            urls.append(f"http://127.0.0.1:{parent.recv()}")
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(10)


def _serve_process(settings_json: str, report: Any) -> None:
    import uvicorn

    settings = Settings.model_validate_json(settings_json)
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are TCP,
    # and with Nagle on every answer written in two parts waits out the client's 40 ms delayed ACK.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    report.send(port)
    app = create_app(build_gateway(settings.served_at("127.0.0.1", port)), dispose_on_shutdown=True)
    settle_heap()
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listener])


async def _poll_and_ack(gw: Gateway, orders: int) -> dict[str, Any]:
    single = max(1, orders // 5)  # one request per order: a smaller sample gives the rate
    await _queue(gw, PULL_ODS, "pull", orders * 3)
    key = await register_party(gw, "provider", PULL_ODS)
    batch_rates: dict[int, float] = {}
    # One set of server processes for every figure (starting one costs seconds of imports): the one-process figure
    # sends every client to the first, while the other waits idle.
    with server_processes(gw.settings, SERVER_PROCESSES) as served:
        for processes in (1, SERVER_PROCESSES):
            urls = served[:processes]
            clients = [party_client(urls[n % len(urls)], key, timeout=120) for n in range(BATCH_CLIENTS)]
            async with contextlib.AsyncExitStack() as stack:
                providers = [await stack.enter_async_context(c) for c in clients]
                for provider in providers:
                    await provider.get("/FHIR/R4/metadata")  # the token, outside the measurement
                batch_rates[processes] = await _timed_concurrent(orders, [_batch_round(p) for p in providers])
        service_rate = await _timed(orders, lambda limit: _service_round(gw, limit))
        # Queued after the batch figures took theirs, so that only these are left to release one by one.
        short_form_ids = await _queue(gw, PULL_ODS, "pull", single, prefix="S")
        one_by_one = await single_message_figures(served, key, PULL_ODS, short_form_ids)
    return {
        "orders_each_way": orders,
        "http_batch_orders_per_second": batch_rates[SERVER_PROCESSES],
        "http_batch_one_server_process_orders_per_second": batch_rates[1],
        "service_batch_orders_per_second": service_rate,
        "http_single_orders_per_second": one_by_one["acknowledgements_per_second"],
        "http_release_one_by_id_per_second": one_by_one["release_one_by_id_per_second"],
        "single_orders": single,
        "batch_clients": BATCH_CLIENTS,
        "server_processes": SERVER_PROCESSES,
        "release_batch": gw.settings.release_max,
        "single_in_flight": IN_FLIGHT,
        "target_orders_per_second": 2000,
    }


async def _timed_concurrent(orders: int, rounds: list[Any]) -> float:
    """Orders per second of several clients, each running `round_(limit)` until `orders` are done between them."""
    done = reserved = 0

    async def client(round_: Any) -> None:
        nonlocal done, reserved
        while reserved < orders:
            limit = min(200, orders - reserved)
            reserved += limit  # no client leases more than its share: the other figures need the rest
            got = await round_(limit)
            done += got
            reserved -= limit - got
            if not got:
                return

    start = time.perf_counter()
    await asyncio.gather(*(client(r) for r in rounds))
    return round(done / (time.perf_counter() - start), 1)


def _batch_round(provider: httpx.AsyncClient) -> Any:
    async def round_(limit: int) -> int:
        ids = await _release(provider, limit)
        if not ids:
            return 0
        acks = [provider_messages.acknowledgement(PULL_ODS, m, "https://bench.example/fhir") for m in ids]
        response = await provider.post("/FHIR/R4", json=provider_messages.process_message_batch(acks), headers=FHIR)
        response.raise_for_status()
        statuses = [e["response"]["status"] for e in response.json()["entry"]]
        if any(not s.startswith("200") for s in statuses):
            raise RuntimeError(f"batch acknowledgement refused: {sorted(set(statuses))}")
        return len(ids)

    return round_


async def _release(provider: httpx.AsyncClient, limit: int) -> list[str]:
    request = provider_messages.release_request(PULL_ODS, max_count=limit)
    response = await provider.post("/FHIR/R4/Task/$release", json=request, headers=FHIR)
    response.raise_for_status()
    passed = next(p["resource"] for p in response.json()["parameter"] if p["name"] == "passedPrescriptions")
    return [e["resource"]["entry"][0]["resource"]["id"] for e in passed.get("entry", [])]


async def _timed(orders: int, round_: Any) -> float:
    """Orders per second of `round_(limit)` (one release and its acknowledgements) until `orders` are done."""
    done = 0
    start = time.perf_counter()
    while done < orders:
        got = await round_(min(200, orders - done))
        if not got:
            break
        done += got
    return round(done / (time.perf_counter() - start), 1)


async def _service_round(gw: Gateway, limit: int) -> int:
    result = await release.release_orders(gw, PULL, max_count=limit)
    acks = [acknowledgements.Ack(order.message_id, "ok") for order in result.orders]
    outcomes = await acknowledgements.apply_acknowledgements(gw, PULL, acks)
    if any(not o.applied for o in outcomes):
        raise RuntimeError("an acknowledgement was not applied")
    return len(result.orders)


def _push_throughput(processes: int, database_url: str | None = None) -> Any:
    """Push orders/s of `processes` workers, reaching the database at `database_url` if not the bench's."""

    async def measure(gw: Gateway, orders: int) -> dict[str, Any]:
        with receiver_process(PUSH_ODS, mix="ok=1", seed=1, slow=1.0) as receiver:
            await _queue(gw, PUSH_ODS, "push", orders, endpoint=receiver.endpoint)
            pool = worker_pool(gw, processes, poll=PUSH_POLL, database_url=database_url)
            start = time.perf_counter()
            pool.fill()
            try:
                while True:
                    async with gw.sessions() as session:
                        if await delivery_ledger.unfinished_count(session, PUSH_ODS) == 0:
                            break
                    await asyncio.sleep(0.05)
                seconds = time.perf_counter() - start
            finally:
                pool.stop()
            ledger = await receiver.ledger()
        return {
            "orders": orders,
            "seconds": round(seconds, 2),
            "orders_per_second": round(orders / seconds, 1),
            "duplicate_deliveries": ledger["duplicate_deliveries"],
        }

    return measure
