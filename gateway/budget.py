"""Per-request CPU budgets: CPU-bound work runs off the event loop, in a worker thread, and is measured there.

A request gets a `CpuBudget` (`HGW_REQUEST_CPU_SECONDS`, set by the HTTP middleware). `offload(fn, ...)` runs `fn` in
a worker thread and charges the thread's own CPU time (`time.thread_time`, so a busy machine does not count against
the caller) to the request's budget; long loops call `checkpoint()`, which raises `BudgetExceededError` (HTTP 422)
once the budget is spent. Outside a request (the command line, workers) there is no budget and `checkpoint()` does
nothing. A thread cannot be stopped from outside, so the loops check: every parser loop over messages, rows or
prescriptions does.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from gateway.errors import InputError, Issue, Location

P = ParamSpec("P")
T = TypeVar("T")

BUDGET_EXCEEDED = "CPU_BUDGET_EXCEEDED"


class BudgetExceededError(InputError):
    """The request used up its CPU budget; nothing it was doing is kept (HTTP 422)."""

    code = BUDGET_EXCEEDED

    def __init__(self, seconds: float) -> None:
        issue = Issue(
            BUDGET_EXCEEDED,
            f"the request needs more than its {seconds:g} s of processing: it is refused, nothing was stored",
            Location(path="body"),
            expected=f"a request processed in at most {seconds:g} CPU seconds (split the input)",
        )
        super().__init__([issue])


@dataclass(slots=True)
class CpuBudget:
    """CPU seconds a request may spend off the loop; `spent` is charged by `offload` as each piece of work ends."""

    seconds: float
    spent: float = 0.0
    settled: bool = False  # the request's work is stored: what is left (its answer) is never refused
    elsewhere: float = 0.0  # of `spent`, what other processes spent for it (`charge`)


_budget: ContextVar[CpuBudget | None] = ContextVar("hgw_cpu_budget", default=None)
_started: ContextVar[float | None] = ContextVar("hgw_cpu_started", default=None)  # thread CPU at offload


@contextmanager
def request_budget(seconds: float) -> Iterator[CpuBudget]:
    """Give the current request `seconds` of CPU for its offloaded work."""
    budget = CpuBudget(seconds)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def current_budget() -> CpuBudget | None:
    """The budget of the request being served, None outside a request (the command line, workers)."""
    return _budget.get()


def settle() -> None:
    """The current request's work is committed: from now on its budget refuses nothing, so the answer describing
    what was stored (a report, an ACK) is always given, never a 422 saying nothing was stored."""
    budget = _budget.get()
    if budget is not None:
        budget.settled = True


def checkpoint() -> None:
    """Raise BudgetExceededError when the current request's work has spent its budget (no-op without one, or
    once the request's work is settled)."""
    budget, started = _budget.get(), _started.get()
    if budget is None or started is None or budget.settled:
        return
    if budget.spent + time.thread_time() - started > budget.seconds:
        raise BudgetExceededError(budget.seconds)


def _charged(work: Callable[[], T]) -> T:
    """Run `fn` in this (worker) thread, charging its CPU time to the request's budget."""
    budget = _budget.get()
    start = time.thread_time()
    _started.set(start)
    try:
        checkpoint()
        return work()
    finally:
        if budget is not None:
            budget.spent += time.thread_time() - start


def charge(seconds: float) -> None:
    """Charge CPU that another process spent on the current request's work (a planning worker) to its budget;
    raise BudgetExceededError once the budget is spent (no-op without one)."""
    budget = _budget.get()
    if budget is None:
        return
    budget.spent += seconds
    budget.elsewhere += seconds
    if not budget.settled and budget.spent > budget.seconds:
        raise BudgetExceededError(budget.seconds)


def run_within(seconds: float | None, fn: Callable[[], T]) -> tuple[T, float]:
    """`fn()` in this thread under a budget of `seconds` (None: none), as a worker process runs its piece of a
    request's work: its loops' `checkpoint()`s raise BudgetExceededError past it. Returns the CPU time it took."""
    start = time.thread_time()
    if seconds is None:
        return fn(), time.thread_time() - start
    with request_budget(seconds):
        result = _charged(fn)
    return result, time.thread_time() - start


async def offload(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in a worker thread, under the request's CPU budget: the event loop stays free."""
    return await asyncio.to_thread(_charged, functools.partial(fn, *args, **kwargs))


# Work on an input smaller than this runs on the event loop: reading a 1 KiB acknowledgement takes a few
# microseconds, handing it to a worker thread and back costs far more (about 0.3 ms of CPU and two wake-ups).
INLINE_BYTES = 16 * 1024


async def offload_sized(size: int, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`offload`, except that work on an input of fewer than `INLINE_BYTES` (`size`) runs at once on the event
    loop, still charged to the request's budget: the bound on size is what keeps it short."""
    if size >= INLINE_BYTES:
        return await offload(fn, *args, **kwargs)
    token = _started.set(None)
    try:
        return _charged(functools.partial(fn, *args, **kwargs))
    finally:
        _started.reset(token)
