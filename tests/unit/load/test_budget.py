"""Per-request CPU budgets: work off the loop is charged its own thread's CPU time and stops at the budget."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from gateway.api.errors import error_status
from gateway.budget import (
    BUDGET_EXCEEDED,
    INLINE_BYTES,
    BudgetExceededError,
    charge,
    checkpoint,
    offload,
    offload_sized,
    request_budget,
    run_within,
    settle,
)


def spin(seconds: float) -> int:
    """Burn CPU (not wall time) until `seconds` of this thread's CPU are used, checking the budget as it goes."""
    start, rounds = time.thread_time(), 0
    while time.thread_time() - start < seconds:
        checkpoint()
        rounds += 1
    return rounds


async def test_offloaded_work_runs_in_another_thread_and_is_charged() -> None:
    loop_thread = threading.get_ident()
    with request_budget(30.0) as budget:
        assert await offload(threading.get_ident) != loop_thread
        await offload(spin, 0.05)
        await offload(spin, 0.05)
    assert 0.1 <= budget.spent < 30.0


async def test_work_past_the_budget_is_refused_with_422() -> None:
    with request_budget(0.05) as budget, pytest.raises(BudgetExceededError) as caught:
        await offload(spin, 60.0)  # stopped at its first checkpoint past 0.05 s, not after a minute
    assert budget.spent < 30.0
    assert caught.value.issues[0].code == BUDGET_EXCEEDED and error_status(caught.value) == 422


async def test_a_spent_budget_refuses_the_next_piece_of_work_before_it_starts() -> None:
    ran: list[int] = []
    with request_budget(0.02):
        with pytest.raises(BudgetExceededError):
            await offload(spin, 60.0)
        with pytest.raises(BudgetExceededError):
            await offload(ran.append, 1)
    assert ran == []


async def test_without_a_request_budget_checkpoints_do_nothing() -> None:
    checkpoint()
    assert await offload(spin, 0.01) > 0
    assert await asyncio.to_thread(spin, 0.01) > 0


async def test_once_settled_a_spent_budget_refuses_nothing_more() -> None:
    """After the request's work is committed, its answer is rendered whatever the budget says: a 422 then would
    claim nothing was stored when it was."""
    with request_budget(0.01) as budget:
        with pytest.raises(BudgetExceededError):
            await offload(spin, 0.05)
        settle()
        assert await offload(spin, 0.02) > 0
    assert budget.settled and budget.spent > 0.01


async def test_work_on_a_small_input_runs_on_the_loop_and_a_large_one_in_a_thread() -> None:
    loop_thread = threading.get_ident()
    with request_budget(30.0) as budget:
        assert await offload_sized(INLINE_BYTES - 1, threading.get_ident) == loop_thread
        assert await offload_sized(INLINE_BYTES, threading.get_ident) != loop_thread
        await offload_sized(10, spin, 0.05)  # inline work is charged like offloaded work
    assert 0.05 <= budget.spent < 30.0


async def test_inline_work_past_the_budget_is_refused_too() -> None:
    with request_budget(0.02), pytest.raises(BudgetExceededError):
        await offload_sized(10, spin, 60.0)


def test_work_run_within_a_budget_stops_at_it_and_reports_its_cpu() -> None:
    """How a planning worker process runs its chunk (`gateway/intake/plan_pool.py`)."""
    rounds, spent = run_within(5.0, lambda: spin(0.05))
    assert rounds > 0 and 0.05 <= spent < 5.0
    with pytest.raises(BudgetExceededError):
        run_within(0.02, lambda: spin(1.0))
    assert run_within(None, lambda: spin(0.01))[1] >= 0.01  # no budget: nothing stops it


def test_cpu_spent_elsewhere_is_charged_and_refused_past_the_budget() -> None:
    charge(100.0)  # outside a request: nothing to charge
    with request_budget(1.0) as budget:
        charge(0.6)
        assert (budget.spent, budget.elsewhere) == (0.6, 0.6)
        with pytest.raises(BudgetExceededError):
            charge(0.6)
        settle()
        charge(5.0)  # the work is stored: the answer is never refused
