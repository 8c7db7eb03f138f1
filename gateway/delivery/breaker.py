"""A circuit breaker per provider endpoint: pure state with an injected clock.

closed ──`failure_threshold` failures in a row──▶ open ──`reset_after` later──▶ half-open
  ▲                                               ▲                              │ one trial request
  └────────────────── trial succeeded ────────────┴──────── trial failed ────────┘

Only an unavailable endpoint counts as a failure (5xx, 408, 429, timeouts, connection errors); a 4xx or a
response message says the endpoint is up. While a breaker is open the relay claims nothing for that endpoint,
so the messages wait in the queue without spending attempts. The state lives in one process: each gateway
process learns an endpoint's health by itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from gateway.delivery.errors import DeliveryError, EndpointUnavailableError

T = TypeVar("T")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass
class CircuitBreaker:
    clock: Callable[[], datetime]
    failure_threshold: int = 5
    reset_after: timedelta = timedelta(seconds=30)
    _failures: int = field(default=0, init=False)
    _opened_at: datetime | None = field(default=None, init=False)
    _trial_out: bool = field(default=False, init=False)

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self._opened_at >= self.reset_after:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def failures(self) -> int:
        return self._failures

    def permits(self, wanted: int) -> int:
        """How many of `wanted` requests may start now; in half-open, one trial at a time.

        Every permitted request must end in `record_success`, `record_failure` or `release`."""
        state = self.state
        if state is BreakerState.CLOSED:
            return wanted
        if state is BreakerState.HALF_OPEN and not self._trial_out and wanted > 0:
            self._trial_out = True
            return 1
        return 0

    def record_success(self) -> None:
        state = self.state
        if state is BreakerState.OPEN:
            return  # a late answer to a request sent before the breaker opened proves nothing now
        self._failures = 0
        self._opened_at = None
        self._trial_out = False

    def record_failure(self) -> None:
        state = self.state
        if state is BreakerState.OPEN:
            return
        if state is BreakerState.HALF_OPEN:
            self._open()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open()

    def release(self) -> None:
        """A permitted request that was not made, or whose answer says nothing about the endpoint's health."""
        self._trial_out = False

    def _open(self) -> None:
        self._opened_at = self.clock()
        self._trial_out = False


@dataclass
class BreakerBoard:
    """One breaker per endpoint URL, made on first use with the board's settings."""

    clock: Callable[[], datetime]
    failure_threshold: int = 5
    reset_after: timedelta = timedelta(seconds=30)
    _breakers: dict[str, CircuitBreaker] = field(default_factory=dict, init=False)

    def __call__(self, endpoint: str) -> CircuitBreaker:
        breaker = self._breakers.get(endpoint)
        if breaker is None:
            breaker = CircuitBreaker(self.clock, self.failure_threshold, self.reset_after)
            self._breakers[endpoint] = breaker
        return breaker

    def states(self) -> dict[str, BreakerState]:
        return {endpoint: b.state for endpoint, b in self._breakers.items()}


class TrialGrants:
    """The half-open trials one claim was granted, so that endpoints left without a request give theirs back.

    A half-open breaker lets one trial request through; a claim that takes the trial but then sends nothing (it
    found nothing due, or its transaction rolled back) must release it, or the breaker would wait forever."""

    def __init__(self, breakers: BreakerBoard) -> None:
        self.breakers = breakers
        self.endpoints: set[str] = set()

    def permits(self, endpoint: str, wanted: int) -> int:
        """How many requests `endpoint`'s breaker lets through now (see `CircuitBreaker.permits`)."""
        breaker = self.breakers(endpoint)
        half_open = breaker.state is BreakerState.HALF_OPEN
        allowed = breaker.permits(wanted)
        if allowed and half_open:
            self.endpoints.add(endpoint)
        return allowed

    def release(self, *, used: set[str] | frozenset[str] = frozenset()) -> None:
        """Give back every trial granted to an endpoint not in `used`."""
        for endpoint in self.endpoints - used:
            self.breakers(endpoint).release()


async def through_breaker(breaker: CircuitBreaker, send: Callable[[], Awaitable[T]]) -> T | DeliveryError:
    """Make one request the breaker let through and tell it how the endpoint did; a DeliveryError is returned.

    Unavailable (5xx, 408, 429, timeout, no connection) is a failure; any other answer, even a 4xx, says the
    endpoint is up; no answer without a sign of the endpoint being down (an unusable URL), or a crash, only gives
    the request slot back."""
    try:
        answer: T | DeliveryError = await send()
    except EndpointUnavailableError as exc:
        breaker.record_failure()
        answer = exc
    except DeliveryError as exc:
        if exc.status_code is None:
            breaker.release()
        else:
            breaker.record_success()
        answer = exc
    except BaseException:
        breaker.release()
        raise
    else:
        breaker.record_success()
    return answer
