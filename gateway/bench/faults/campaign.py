"""Drive one fault campaign: orders flow in while workers are killed, stalled and cut off from the database.

1. The database is migrated; a push provider (the receiver process, failing on its schedule) is registered as
   the default route.
2. `workers` push worker processes start (SQLite: one at a time, as a SQLite deployment runs).
3. Concurrently, until both the kills and the orders are done:
   - exports of `batch` prescriptions are ingested as a trust posts them, retried when the store is down
     (a retried export answers `duplicate` for what already went in);
   - every `kill_interval` a random running worker gets SIGKILL and a new one is started at once;
   - `stalls` times, a worker is stopped (SIGSTOP) for longer than its lease, then continued: its leases may
     have been taken over, and its late finish must then change nothing (the fence);
   - `pg_restarts` times, PostgreSQL is restarted (every session cut) and waited for.
4. Kills stop; the workers drain the queue (the provider keeps failing, but no longer kills or freezes them).
5. The outbox is compared with the provider's ledger (`report.tally_report`).

PostgreSQL is always brought back up (`postgres.ensure_up`) and every process started here is ended by pid.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from adapters.jac.writer import render_export
from conformance.parties.exports import export_rows
from gateway.bench.faults import postgres
from gateway.bench.faults.processes import ReceiverProcess, WorkerPool, receiver_process
from gateway.bench.faults.report import CampaignReport, Tally, tally_report
from gateway.bench.faults.schedule import DEFAULT_MIX, FaultMix
from gateway.bench.faults.worker import WorkerSpec
from gateway.context import Gateway
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.intake.ingest import ingest_export
from gateway.intake.outcomes import ACCEPTED
from gateway.operations import admin
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.store import delivery_ledger
from gateway.store.db import is_sqlite
from gateway.store.migrate import upgrade
from gateway.wiring import build_gateway

PROVIDER_ODS = "VNPSH"
INGEST_RETRY_SECONDS = 60.0
FAULT_COVERAGE_SECONDS = 60.0  # the longest the kill phase waits, after its kills, for every fault to be drawn
TRUST = Principal("fault-campaign", Role.TRUST, "RBA", frozenset(ROLE_SCOPES[Role.TRUST]))


@dataclass(frozen=True)
class CampaignConfig:
    database_url: str
    data_dir: Path
    workers: int = 4
    """Worker processes running at any time (always 1 on SQLite)."""
    loops: int = 1
    """Worker loops per process."""
    kills: int = 200
    """Random SIGKILLs by the driver, at least (kill-before-commit faults add their own)."""
    kill_interval: tuple[float, float] = (0.04, 0.2)
    prescriptions: int = 150
    batch: int = 20
    pg_restarts: int = 1
    stalls: int = 2
    mix: str = DEFAULT_MIX
    seed: int = 7
    lease: float = 2.0
    timeout: float = 0.3
    batch_per_claim: int = 4
    drain_timeout: float = 60.0
    log_file: Path | None = None

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.database_url)


@dataclass
class _Run:
    cfg: CampaignConfig
    gw: Gateway
    pool: WorkerPool
    rng: random.Random
    tally: Tally = field(default_factory=Tally)
    ingest_done: asyncio.Event = field(default_factory=asyncio.Event)
    kills_done: asyncio.Event = field(default_factory=asyncio.Event)
    faults_served: Callable[[], Awaitable[bool]] | None = None  # has the provider drawn every fault of its mix?

    @property
    def phase_over(self) -> bool:
        return self.ingest_done.is_set() and self.kills_done.is_set()


async def run_campaign(cfg: CampaignConfig) -> CampaignReport:
    """Run the campaign described by `cfg` and return its report (also when it did not pass)."""
    mix = FaultMix.parse(cfg.mix)  # refuse a bad mix before starting anything
    if cfg.sqlite:  # one worker: a frozen one would just pause the run, with no one to take over its leases
        mix = mix.without("stall-after-answer")
    started = time.monotonic()
    await asyncio.to_thread(upgrade, cfg.database_url)
    settings = Settings(
        data_dir=cfg.data_dir, database_url=cfg.database_url, mode="test", push_workers=0, outbound_allow_loopback=True
    )
    gw = build_gateway(settings)  # makes the data key the workers will read
    dsn = None if cfg.sqlite else postgres.libpq_dsn(cfg.database_url)
    workers = 1 if cfg.sqlite else cfg.workers
    pool: WorkerPool | None = None
    try:
        stall_dir = cfg.data_dir / "stalled"
        stall_dir.mkdir(parents=True, exist_ok=True)
        with receiver_process(PROVIDER_ODS, mix=mix.render(), seed=cfg.seed, slow=cfg.timeout * 2.5) as receiver:
            await admin.add_provider(gw, ods=PROVIDER_ODS, name="Fault Campaign Homecare", mode="push",
                                     endpoint=receiver.endpoint)
            await admin.add_route(gw, provider_ods=PROVIDER_ODS)
            await configure_sample_directory(gw)  # the trust's organisations, as EPS needs them
            spec = WorkerSpec(
                database_url=cfg.database_url,
                data_dir=str(cfg.data_dir),
                loops=cfg.loops,
                timeout=cfg.timeout,
                lease=cfg.lease,
                batch=cfg.batch_per_claim,
                concurrency=cfg.batch_per_claim,
                log_file=str(cfg.log_file) if cfg.log_file else None,
                stall_dir=str(stall_dir),
                stall_seconds=cfg.lease + 1.5,
            )
            pool = WorkerPool(spec, workers)
            pool.fill()
            run = _Run(cfg, gw, pool, random.Random(cfg.seed))  # noqa: S311 - fault timing, not a secret
            run.faults_served = _every_fault_served(receiver, mix)
            phase_started = time.monotonic()
            await _kill_phase(run, dsn)
            run.tally.kill_phase_seconds = time.monotonic() - phase_started
            await receiver.set_mix(mix.without("kill-before-commit").without("stall-after-answer").render())
            await _drain(run)
            run.tally.drain_seconds = time.monotonic() - phase_started - run.tally.kill_phase_seconds
            pool.stop()
            return await _report(run, receiver, workers, time.monotonic() - started)
    finally:
        if pool is not None:
            pool.stop()
        if dsn is not None and cfg.pg_restarts:
            await asyncio.to_thread(postgres.ensure_up, dsn)
        await gw.close()


async def _kill_phase(run: _Run, dsn: str | None) -> None:
    """Ingest, kill, replace, stall and restart concurrently; if one fails, the others are cancelled."""
    async with asyncio.TaskGroup() as group:
        for work in (_ingest(run), _killer(run), _supervisor(run)):
            group.create_task(work)
        if dsn is not None:
            group.create_task(_restarter(run, dsn))
            group.create_task(_staller(run))


async def _ingest(run: _Run) -> None:
    cfg = run.cfg
    batches = math.ceil(cfg.prescriptions / cfg.batch)
    mean_interval = sum(cfg.kill_interval) / 2
    pace = cfg.kills * mean_interval / batches  # spread the orders over the kill phase
    try:
        for number in range(batches):
            size = min(cfg.batch, cfg.prescriptions - number * cfg.batch)
            rows = export_rows(size, seed=cfg.seed * 1000 + number, rx_prefix=f"F{number:04d}")
            payload = render_export(rows)
            give_up = time.monotonic() + INGEST_RETRY_SECONDS
            while True:
                try:
                    report = await ingest_export(run.gw, TRUST, payload, "text/csv")
                    break
                except Exception:  # the store is down (a restart): the trust sends it again, for a while
                    if time.monotonic() > give_up:
                        raise
                    run.tally.ingest_retries += 1
                    await asyncio.sleep(0.2)
            for outcome in report.prescriptions:
                if outcome.outcome in ACCEPTED:
                    run.tally.accepted_rx.add(outcome.rx_number)
                else:
                    run.tally.rejected += 1
            await asyncio.sleep(pace)
    finally:
        run.ingest_done.set()


def _every_fault_served(receiver: ReceiverProcess, mix: FaultMix) -> Callable[[], Awaitable[bool]]:
    """Whether the provider has drawn every fault of `mix` at least once."""
    wanted = {name for name, weight in mix.weights if weight > 0}

    async def served() -> bool:
        drawn = (await receiver.ledger())["faults"]
        return wanted <= {name for name, count in drawn.items() if count}

    return served


async def _killer(run: _Run) -> None:
    """Kill workers at random until the kills are done and every order was sent; then, without killing, wait
    (at most FAULT_COVERAGE_SECONDS) until the provider has drawn every fault of its mix: on a loaded machine the
    kills can be over before it has answered a whole block of faults, and the faults a worker carries out itself
    (kill-before-commit) need a worker that lives long enough to reach the provider."""
    lo, hi = run.cfg.kill_interval
    try:
        while run.tally.kills_random < run.cfg.kills or not run.ingest_done.is_set():
            await asyncio.sleep(run.rng.uniform(lo, hi))
            victim = run.pool.pick(run.rng)
            if victim is None:
                continue
            run.pool.kill(victim)
            run.tally.kills_random += 1
        if run.faults_served is not None:
            give_up = time.monotonic() + FAULT_COVERAGE_SECONDS
            while time.monotonic() < give_up and not await run.faults_served():
                await asyncio.sleep(0.2)
    finally:
        run.kills_done.set()


async def _supervisor(run: _Run) -> None:
    """Replace dead workers at once, during the kill phase and the drain."""
    while not run.phase_over:
        run.pool.reap()
        await asyncio.sleep(0.01)


async def _at_fraction(run: _Run, fraction: float) -> bool:
    """Wait until `fraction` of the kills are done; False if the phase ended first."""
    while run.tally.kills_random < fraction * run.cfg.kills:
        if run.phase_over:
            return False
        await asyncio.sleep(0.02)
    return True


async def _restarter(run: _Run, dsn: str) -> None:
    count = run.cfg.pg_restarts
    for n in range(count):
        if not await _at_fraction(run, (n + 1) / (count + 1)):
            return
        run.tally.pg_unavailable_seconds += await asyncio.to_thread(postgres.restart, dsn)
        run.tally.pg_restarts += 1


async def _staller(run: _Run) -> None:
    """SIGSTOP a worker for longer than its lease, then SIGCONT it: it comes back holding leases it lost."""
    count = run.cfg.stalls
    for n in range(count):
        if not await _at_fraction(run, (n + 0.5) / count):
            return
        while (victim := run.pool.pick(run.rng)) is None or not run.pool.stall(victim):
            if run.phase_over:
                return
            await asyncio.sleep(0.02)  # every worker is frozen or just died: try again
        try:
            await asyncio.sleep(run.cfg.lease + 1.5)  # long enough for another worker to take its leases over
        finally:
            run.pool.resume(victim)
        run.tally.stalls += 1


async def _drain(run: _Run) -> None:
    """Let the workers finish what is queued (faults continue, kills stop), up to the drain timeout."""
    deadline = time.monotonic() + run.cfg.drain_timeout
    while time.monotonic() < deadline:
        run.pool.reap()
        try:
            async with run.gw.sessions() as session:
                if await delivery_ledger.unfinished_count(session, PROVIDER_ODS) == 0:
                    return
        except Exception:  # noqa: BLE001, S110 - the store may still be coming back; look again
            pass
        await asyncio.sleep(0.1)


async def _report(run: _Run, receiver: ReceiverProcess, workers: int, duration: float) -> CampaignReport:
    async with run.gw.sessions() as session:
        rows = await delivery_ledger.message_states(session, PROVIDER_ODS)
        fenced = await delivery_ledger.fenced_attempts(session, PROVIDER_ODS)
        interrupted = await delivery_ledger.interrupted_attempts(session, PROVIDER_ODS)
    run.tally.kills_after_answer_before_commit = run.pool.self_killed
    run.tally.unexpected_exits = run.pool.unexpected_exits
    return tally_report(
        database="sqlite" if run.cfg.sqlite else "postgresql",
        duration=duration,
        workers=workers,
        rows=rows,
        fenced=fenced,
        interrupted=interrupted,
        receiver=await receiver.ledger(),
        tally=run.tally,
    )
