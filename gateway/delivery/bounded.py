"""One round's attempts, run concurrently but at most so many at once (the push and webhook relays share this)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

J = TypeVar("J")
R = TypeVar("R")


async def each_bounded(
    slots: asyncio.Semaphore | Callable[[J], asyncio.Semaphore],
    jobs: Sequence[J],
    work: Callable[[J], Awaitable[R]],
    on_error: Callable[[J, BaseException], None],
) -> list[tuple[J, R]]:
    """Await `work` for every job, holding one of `slots` each (or of `slots(job)`: a bound per provider, say); the
    jobs that ended, with their results, in order.

    A job whose work raised is handed to `on_error` and left out: it was claimed under a lease, which runs out, and
    the job is then claimed again. Cancellation is not a job's failure: it is raised."""

    async def limited(job: J) -> R:
        async with slots if isinstance(slots, asyncio.Semaphore) else slots(job):
            return await work(job)

    outcomes = await asyncio.gather(*(limited(job) for job in jobs), return_exceptions=True)
    done: list[tuple[J, R]] = []
    for job, outcome in zip(jobs, outcomes, strict=True):
        if isinstance(outcome, asyncio.CancelledError):
            raise outcome
        if isinstance(outcome, BaseException):
            on_error(job, outcome)
            continue
        done.append((job, outcome))
    return done
