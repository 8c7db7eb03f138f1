"""The push retry policy: a small pure object, failure and attempt in, decision out (after procrastinate's retry.py).

Exponential backoff with full jitter: after attempt n the next one waits a uniformly random time in
[0, min(cap, base * 2**(n-1))], so that a provider coming back from an outage is not hit by every message at
once. Permanent failures (4xx) are never retried; transient ones (5xx, timeouts, connection errors, a
`transient-error` response) are retried until `max_attempts` attempts were made or the next one would come
after `max_age` since the message was queued.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from gateway.delivery.errors import DeliveryError, PermanentDeliveryError

# 2**62 seconds is already far beyond any cap: stop doubling there rather than overflow.
_MAX_DOUBLINGS = 62


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again after `delay`."""

    delay: timedelta

    def at(self, now: datetime) -> datetime:
        return now + self.delay


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop: the message goes to the dead letters with `reason`."""

    reason: str


Decision = Retry | GiveUp


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 10
    max_age: timedelta = timedelta(hours=24)
    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_age <= timedelta(0):
            raise ValueError("max_age must be positive")
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("backoff needs 0 < base <= cap")

    def ceiling(self, attempt: int) -> timedelta:
        """The longest wait after attempt number `attempt` (1-based): min(cap, base * 2**(attempt-1))."""
        doublings = min(max(attempt - 1, 0), _MAX_DOUBLINGS)
        seconds = min(self.cap.total_seconds(), self.base.total_seconds() * 2.0**doublings)
        return timedelta(seconds=seconds)

    def backoff(self, attempt: int, rng: random.Random) -> timedelta:
        """Full jitter: uniform in [0, ceiling(attempt)]."""
        return timedelta(seconds=rng.uniform(0.0, self.ceiling(attempt).total_seconds()))

    def exhausted(self, *, attempts: int, age: timedelta) -> str | None:
        """Why no attempt may be made now, or None. Checked before an attempt too, so that a message whose
        attempts never finished (its worker died each time) still ends rather than being retried for ever."""
        if attempts > self.max_attempts:
            return f"{attempts - 1} attempts made without an answer, the most allowed is {self.max_attempts}"
        if age > self.max_age:
            return f"not delivered within the maximum age of {_human(self.max_age)}"
        return None

    def decide(self, error: DeliveryError, *, attempt: int, age: timedelta, rng: random.Random) -> Decision:
        """After attempt number `attempt` failed with `error`, `age` after the message was queued."""
        if isinstance(error, PermanentDeliveryError):
            return GiveUp(f"permanent failure: {error.reason}")
        if attempt >= self.max_attempts:
            return GiveUp(f"gave up after {attempt} attempts; last: {error.reason}")
        delay = self.backoff(attempt, rng)
        if age + delay > self.max_age:
            return GiveUp(f"gave up at the maximum age of {_human(self.max_age)}; last: {error.reason}")
        return Retry(delay)


def _human(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


class StoredPolicy(Protocol):
    """A row that carries its own retry policy (a push provider, a webhook subscription); a blank means default."""

    @property
    def max_attempts(self) -> int | None: ...
    @property
    def max_age_seconds(self) -> int | None: ...
    @property
    def backoff_base_seconds(self) -> float | None: ...
    @property
    def backoff_cap_seconds(self) -> float | None: ...


def stored_policy(row: StoredPolicy, default: RetryPolicy) -> RetryPolicy:
    """The row's own retry policy, blanks taken from `default`; ValueError when the mix is unusable."""
    return RetryPolicy(
        max_attempts=row.max_attempts or default.max_attempts,
        max_age=timedelta(seconds=row.max_age_seconds) if row.max_age_seconds else default.max_age,
        base=timedelta(seconds=row.backoff_base_seconds) if row.backoff_base_seconds else default.base,
        cap=timedelta(seconds=row.backoff_cap_seconds) if row.backoff_cap_seconds else default.cap,
    )
