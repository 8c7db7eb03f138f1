"""Heavy exports in a process of their own, so that the serving process's event loop keeps answering.

Worker threads keep CPU work off the event loop, but they share its heap and interpreter lock: while a
5,000-prescription export is parsed, planned, validated and signed, a full garbage collection traverses its hundreds
of thousands of objects and stops every thread, the loop's too, for hundreds of milliseconds (docs/limits.md). So
during a request (HTTP or an MLLP frame, when a CPU budget is set) an export of `HGW_ISOLATE_ABOVE_BYTES` or more is
handled (`handling.handle`: parse, plan, store in one transaction) by a child process started for it. The child is
forked from a fork server that has the gateway imported (a few milliseconds), opens its own connection, and hands
back only the outcomes; the serving process never holds the export's objects.

Bounds, each a located 422 with nothing of the export stored (a child that stops mid-transaction is rolled back):
- CPU: the child gets what is left of the request's budget, checked as in a thread (`checkpoint()`), and a hard
  `RLIMIT_CPU` a little above it for work that never reaches a checkpoint;
- memory: `RLIMIT_AS` of `HGW_ISOLATED_MEMORY_MB`;
- time: a wall-clock deadline, after which the child is killed.
A child also ends when the serving process goes away (its pipe closes) and is killed when the request is cancelled,
so SIGTERM's grace period bounds it like any request.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import pickle
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Final

from adapters.hl7v2 import render_ack
from gateway.budget import BudgetExceededError, CpuBudget, current_budget, request_budget
from gateway.context import Gateway, utc_now
from gateway.domain.principal import Principal
from gateway.errors import InputError, Issue, StoreError
from gateway.intake.handling import Handled, handle
from gateway.intake.outcomes import PrescriptionOutcome
from gateway.intake.plan_pool import die_with_parent
from gateway.limits import limit_issue
from gateway.settings import Settings

WALL_FACTOR: Final = 4.0
"""The child's wall-clock deadline is this many times its CPU budget, plus `WALL_SLACK` seconds (a busy machine)."""
WALL_SLACK: Final = 30.0
CPU_SLACK: Final = 5
"""Seconds of process CPU above the budget before the kernel stops a child that never reached a checkpoint."""

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__])  # the fork server imports the gateway once; each child is a fork of it


def wanted(gw: Gateway, payload: bytes) -> bool:
    """Whether this export is handled in a process of its own: during a request, from the configured size up, when
    this process may start one (a daemonic process, as some process managers run servers, may not)."""
    return (
        current_budget() is not None
        and len(payload) >= gw.settings.isolate_above_bytes
        and not multiprocessing.current_process().daemon
    )


def warm() -> None:
    """Start the fork server now (`hgw serve` does, before serving), not at the first heavy export."""
    from multiprocessing import forkserver

    forkserver.ensure_running()


@dataclass(frozen=True, slots=True)
class _Job:
    settings: Settings
    principal: Principal
    payload: bytes
    content_type: str
    payload_id: str
    now: datetime
    cpu_seconds: float
    wall_clock: bool
    """The serving process's clock is the wall clock; else (tests) the child's audit records say `now`."""


@dataclass(frozen=True, slots=True)
class _Done:
    format: str
    file_issues: list[Issue]
    outcomes: list[PrescriptionOutcome]
    providers: list[str]
    ack: bytes | None
    cpu_spent: float


@dataclass(frozen=True, slots=True)
class _Refused:
    issues: list[Issue]
    budget_seconds: float | None  # the CPU budget, when that is what ran out
    cpu_spent: float


@dataclass(frozen=True, slots=True)
class _Failed:
    store_error: str | None  # a StoreError's message; None: a defect (its type only: a message may quote data)
    kind: str


async def handle_isolated(
    gw: Gateway, principal: Principal, payload: bytes, content_type: str, payload_id: str, now: datetime
) -> Handled:
    """`handling.handle` in a child process, within the request's remaining CPU budget and the bounds above."""
    budget = current_budget()
    seconds = gw.settings.request_cpu_seconds if budget is None else max(budget.seconds - budget.spent, 0.001)
    job = _Job(gw.settings, principal, payload, content_type, payload_id, now, seconds, gw.clock is utc_now)
    receiving, sending = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_child_main, args=(sending, job), name=f"hgw-export-{payload_id}", daemon=True)
    try:
        await asyncio.to_thread(child.start)  # the first start launches the fork server: not on the loop
        sending.close()  # the child holds its end: when it exits, ours reads end-of-file
        reply = await _receive(receiving, seconds * WALL_FACTOR + WALL_SLACK)
    finally:
        sending.close()  # again when the start failed (closing twice is harmless)
        receiving.close()
        if child.pid is not None:  # started (the fork server may have failed to start it)
            if child.is_alive():
                child.kill()
            await asyncio.to_thread(child.join, 10)
    if budget is not None and isinstance(reply, _Done | _Refused):
        budget.spent += reply.cpu_spent
    return _handled(reply, seconds)


def _handled(reply: _Done | _Refused | _Failed | None, seconds: float) -> Handled:
    """The child's reply as `handle` would have returned or raised it."""
    if isinstance(reply, _Done):
        return Handled(reply.format, reply.file_issues, reply.outcomes, reply.providers, ack=reply.ack)
    if isinstance(reply, _Refused):
        raise BudgetExceededError(reply.budget_seconds) if reply.budget_seconds is not None else InputError(
            reply.issues
        )
    if isinstance(reply, _Failed):
        if reply.store_error is not None:
            raise StoreError(reply.store_error)
        raise RuntimeError(f"the process handling the export failed: {reply.kind}")
    issue = limit_issue(
        "body",
        "the export could not be processed within its limits (time or memory): it is refused, nothing was stored",
        f"an export processed within {seconds:g} CPU seconds and the configured memory (split the input)",
    )
    raise InputError([issue])


async def _receive(receiving: Connection, deadline: float) -> _Done | _Refused | _Failed | None:
    """The child's reply, or None when it ended without one (killed by a limit) or missed its deadline."""
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(receiving.fileno(), ready)
    try:
        await asyncio.wait_for(readable, deadline)
    except TimeoutError:
        return None
    finally:
        loop.remove_reader(receiving.fileno())
    try:
        data = await asyncio.to_thread(receiving.recv_bytes)
    except (EOFError, OSError):
        return None
    reply: _Done | _Refused | _Failed = await asyncio.to_thread(pickle.loads, data)
    return reply


@dataclass(frozen=True, slots=True)
class _Fixed:
    """A clock that always says `at` (picklable, unlike a test's clock)."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at


def _child_main(sending: Connection, job: _Job) -> None:
    """The child: limits first, then `handle` under the request's CPU budget; one reply, whatever happens."""
    die_with_parent()  # the fork server, which ends with the serving process (a server killed outright too)
    # A daemonic process may start no children: ours may start a pool to plan the export (`plan_pool`). The
    # serving process still counts us daemonic, and terminates us if it exits first.
    multiprocessing.current_process().daemon = False
    cpu = math.ceil(job.cpu_seconds) + CPU_SLACK
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + CPU_SLACK))
    memory = job.settings.isolated_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    reply: _Done | _Refused | _Failed
    budget = CpuBudget(job.cpu_seconds)
    try:
        with request_budget(job.cpu_seconds) as budget:
            reply = asyncio.run(_in_child(job))
    except BudgetExceededError as exc:
        reply = _Refused(exc.issues, job.cpu_seconds, _cpu_spent(budget))
    except InputError as exc:
        reply = _Refused(exc.issues, None, _cpu_spent(budget))
    except StoreError as exc:
        reply = _Failed(str(exc), type(exc).__name__)
    except MemoryError:
        return  # no reply: the serving process answers that the export went over its limits
    except Exception as exc:  # noqa: BLE001 - a defect: its type goes back, never its message (it may quote data)
        reply = _Failed(None, type(exc).__name__)
    with contextlib.suppress(BrokenPipeError):  # the serving process gave up on us
        sending.send_bytes(pickle.dumps(reply))


async def _in_child(job: _Job) -> _Done:
    from gateway.wiring import build_gateway

    clock: Callable[[], datetime] = utc_now if job.wall_clock else _Fixed(job.now)
    gw = build_gateway(job.settings, clock=clock)
    try:
        handled = await handle(gw, job.principal, job.payload, job.content_type, job.payload_id, job.now)
    finally:
        await gw.close()
    ack = None
    if handled.parsed is not None and handled.parsed.format == "hl7v2":
        ack = render_ack(handled.parsed, dict(enumerate(handled.outcomes)), now=job.now)
    budget = current_budget()
    assert budget is not None  # noqa: S101 - `_child_main` runs us under one
    return _Done(handled.format, handled.file_issues, handled.outcomes, handled.providers, ack, _cpu_spent(budget))


def _cpu_spent(budget: CpuBudget) -> float:
    """This process's CPU and what its planning workers spent (`plan_pool` charges it to the budget)."""
    return time.process_time() + budget.elsewhere
