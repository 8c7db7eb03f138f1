"""Planning a large export on every core: build, validate, sign and seal its orders in worker processes.

Planning is pure CPU (`planning.Planner`: build each order, validate it, sign it, seal it), and under the GIL a
worker thread gives it one core. So an export of `HGW_INGEST_PARALLEL_FROM` prescriptions or more is cut into
contiguous chunks, each planned by a process of a pool of `HGW_INGEST_WORKERS` (0: one per core) started for it
from the fork server (which has the gateway imported); smaller exports keep the worker thread. `plans` yields the
chunks' outcomes and rows in the export's order as they arrive, so the caller writes each while the next ones are
planned and never holds the whole export's rows (one chunk more than there are workers in flight).

Every guarantee of a thread is kept:
- the request's CPU budget: each chunk runs under what is left of it (its `checkpoint()`s stop it there) and its
  CPU time is charged to it when it comes back (`budget.charge`);
- cancel: the pool is shut down with its queued chunks cancelled; a worker ends once its chunk is done;
- isolation: inside the process that handles a heavy export (`isolated`), the pool's fork server and workers are
  that process's descendants and inherit its `RLIMIT_CPU` and `RLIMIT_AS`; each worker dies with its fork server
  (PR_SET_PDEATHSIG) and with the process that started the pool (`exit_with`), so none outlives the request's
  process, however it ends.
A worker builds its own gateway from the settings (the same data key and signing keys, read from the same place).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import itertools
import math
import multiprocessing
import os
import select
import signal
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Final

from adapters import ParsedPrescription
from gateway.budget import BudgetExceededError, charge, current_budget, offload, run_within
from gateway.context import Gateway
from gateway.intake.outcomes import PrescriptionOutcome
from gateway.intake.planning import PlanInputs, Planner
from gateway.intake.rows import Rows
from gateway.settings import Settings

PR_SET_PDEATHSIG: Final = 1  # <linux/prctl.h>
CHUNKS_PER_WORKER: Final = 16
"""Chunks per worker: small enough that the chunks in flight weigh little (about 160 prescriptions each for 5,000
on 2 cores) and every core is busy to the end, large enough that each carries the cost of sending it."""

_CONTEXT = multiprocessing.get_context("forkserver")


def only(inputs: PlanInputs, chunk: list[ParsedPrescription]) -> PlanInputs:
    """`inputs` cut to the prescriptions of `chunk` (what a worker is sent)."""
    keys = {pp.prescription.key for pp in chunk if pp.prescription is not None}
    numbers = {(trust, rx) for trust, rx, _ in keys}
    return dataclasses.replace(
        inputs,
        existing={k: v for k, v in inputs.existing.items() if k in keys},
        prebuilt={k: v for k, v in inputs.prebuilt.items() if k in keys},
        current={k: v for k, v in inputs.current.items() if k in numbers},
    )


Planned = tuple[list[PrescriptionOutcome], Rows]


def workers(settings: Settings) -> int:
    """How many processes plan a large export: the setting, else the cores this process may run on."""
    if settings.ingest_workers:
        return settings.ingest_workers
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


async def plans(gw: Gateway, inputs: PlanInputs, parsed: list[ParsedPrescription]) -> AsyncGenerator[Planned, None]:
    """The outcomes and rows of `parsed`, chunk after chunk in its order: all at once from a worker thread for a
    small export or one core, else from a pool of processes (above)."""
    count = workers(gw.settings)
    if count <= 1 or len(parsed) < gw.settings.ingest_parallel_from:
        yield await offload(Planner(gw, inputs).plan, parsed)
        return
    size = max(1, math.ceil(len(parsed) / (count * CHUNKS_PER_WORKER)))
    chunks = [parsed[start : start + size] for start in range(0, len(parsed), size)]
    pool = ProcessPoolExecutor(
        count, mp_context=_CONTEXT, initializer=_start_worker, initargs=(gw.settings, os.getpid())
    )
    try:
        waiting = iter(chunks)

        def submit(chunk: list[ParsedPrescription]) -> asyncio.Future[_Chunk]:
            return asyncio.wrap_future(pool.submit(_plan_chunk, only(inputs, chunk), chunk, _left()))

        pending = deque(submit(chunk) for chunk in itertools.islice(waiting, count + 1))
        while pending:
            done = await pending.popleft()
            following = next(waiting, None)
            if following is not None:
                pending.append(submit(following))  # before the caller writes this one: every worker stays busy
            yield _charged(done)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _left() -> float | None:
    """What is left of the request's CPU budget (None: no budget)."""
    budget = current_budget()
    if budget is None or budget.settled:
        return None
    return max(budget.seconds - budget.spent, 0.001)


def _charged(done: _Chunk) -> Planned:
    charge(done.cpu_seconds)
    if done.over_budget:
        budget = current_budget()
        raise BudgetExceededError(budget.seconds if budget is not None else 0.0)
    return done.outcomes, done.rows


@dataclass(frozen=True, slots=True)
class _Chunk:
    outcomes: list[PrescriptionOutcome]
    rows: Rows
    cpu_seconds: float
    over_budget: bool


_worker_gateway: list[Gateway] = []
"""The worker process's own gateway, built by `_start_worker` (not at import: the serving process never has one)."""


def _start_worker(settings: Settings, owner: int) -> None:
    die_with_parent()
    exit_with(owner)
    from gateway.wiring import build_gateway

    _worker_gateway.append(build_gateway(settings))


def _plan_chunk(inputs: PlanInputs, chunk: list[ParsedPrescription], seconds: float | None) -> _Chunk:
    """In a worker: plan `chunk` under `seconds` of CPU (None: no budget)."""
    plan: Callable[[], Planned] = lambda: Planner(_worker_gateway[0], inputs).plan(chunk)  # noqa: E731
    try:
        (outcomes, rows), spent = run_within(seconds, plan)
    except BudgetExceededError:
        return _Chunk([], Rows(), seconds or 0.0, over_budget=True)
    return _Chunk(outcomes, rows, spent, over_budget=False)


def exit_with(owner: int) -> None:
    """End this worker as soon as process `owner` (the one that started the pool) has ended, however it ended.

    Dying with the fork server is not enough: a fork server keeps running while any process it forked is alive
    (each holds its "alive" pipe), and an idle pool worker waits on a queue whose write end it holds itself, so a
    pool whose owner was killed would keep its workers and its fork server for ever. A thread waits on a pidfd of
    the owner (Linux 5.3+; without one, the worker relies on the owner's shutdown as before)."""
    try:
        pidfd = os.pidfd_open(owner)
    except (OSError, AttributeError):
        return

    def watch() -> None:
        select.select([pidfd], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="hgw-pool-owner", daemon=True).start()


def die_with_parent() -> None:
    """Be killed when our parent ends (Linux's PR_SET_PDEATHSIG): a process forked from a fork server ends with it,
    and the fork server ends with the process that started it, so nothing goes on for a request nobody answers."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

