"""RetryPolicy: full-jitter exponential backoff, permanent versus transient failures, attempt and age limits."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.delivery.errors import EndpointUnavailableError, PermanentDeliveryError, TransientDeliveryError
from gateway.delivery.policy import GiveUp, Retry, RetryPolicy

POLICY = RetryPolicy(max_attempts=6, max_age=timedelta(hours=1), base=timedelta(seconds=2), cap=timedelta(seconds=20))
SERVER_ERROR = EndpointUnavailableError("HTTP 503 from the provider", outcome="http-503", status_code=503)
TIMEOUT = EndpointUnavailableError("no answer within 10 s", outcome="timeout")
REFUSED = PermanentDeliveryError("HTTP 400: the provider refused the message", outcome="http-400", status_code=400)


def test_ceiling_doubles_from_base_up_to_cap() -> None:
    assert [POLICY.ceiling(n).total_seconds() for n in range(1, 7)] == [2, 4, 8, 16, 20, 20]
    assert POLICY.ceiling(10_000) == POLICY.cap  # no overflow for absurd attempt numbers


def test_full_jitter_spreads_over_the_whole_window_with_a_seeded_rng() -> None:
    rng = random.Random(7)
    delays = [POLICY.backoff(3, rng).total_seconds() for _ in range(2000)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    # Full jitter, not "half" or "equal" jitter: the low quarter of the window is used as much as the high one.
    assert min(delays) < 0.1 and max(delays) > 7.9
    low = sum(d < 2.0 for d in delays) / len(delays)
    assert 0.2 < low < 0.3
    # Reproducible from the seed.
    assert POLICY.backoff(3, random.Random(7)) == POLICY.backoff(3, random.Random(7))


@given(attempt=st.integers(1, 200), seed=st.integers(0, 2**32))
def test_backoff_is_never_negative_nor_above_the_ceiling(attempt: int, seed: int) -> None:
    delay = POLICY.backoff(attempt, random.Random(seed)).total_seconds()
    assert 0.0 <= delay <= min(20.0, 2.0 * 2.0 ** (attempt - 1))


@pytest.mark.parametrize("error", [SERVER_ERROR, TIMEOUT, TransientDeliveryError("x", outcome="transient-error")])
def test_transient_failures_are_retried_within_the_window(error: TransientDeliveryError) -> None:
    decision = POLICY.decide(error, attempt=2, age=timedelta(minutes=1), rng=random.Random(1))
    assert isinstance(decision, Retry)
    assert timedelta(0) <= decision.delay <= timedelta(seconds=4)


def test_a_4xx_is_permanent_on_the_first_attempt() -> None:
    decision = POLICY.decide(REFUSED, attempt=1, age=timedelta(0), rng=random.Random(1))
    assert decision == GiveUp("permanent failure: HTTP 400: the provider refused the message")


def test_gives_up_after_max_attempts() -> None:
    assert isinstance(POLICY.decide(SERVER_ERROR, attempt=5, age=timedelta(0), rng=random.Random(1)), Retry)
    decision = POLICY.decide(SERVER_ERROR, attempt=6, age=timedelta(0), rng=random.Random(1))
    assert isinstance(decision, GiveUp)
    assert decision.reason == "gave up after 6 attempts; last: HTTP 503 from the provider"


def test_gives_up_when_the_next_attempt_would_come_after_max_age() -> None:
    rng = random.Random(3)
    delay = POLICY.backoff(4, random.Random(3))
    just_in = POLICY.max_age - delay
    assert isinstance(POLICY.decide(TIMEOUT, attempt=4, age=just_in, rng=random.Random(3)), Retry)
    decision = POLICY.decide(TIMEOUT, attempt=4, age=just_in + timedelta(seconds=1), rng=rng)
    assert isinstance(decision, GiveUp)
    assert decision.reason.startswith("gave up at the maximum age of 1 h")


def test_exhausted_before_an_attempt() -> None:
    assert POLICY.exhausted(attempts=6, age=timedelta(minutes=59)) is None
    assert POLICY.exhausted(attempts=7, age=timedelta(0)) == "6 attempts made without an answer, the most allowed is 6"
    assert POLICY.exhausted(attempts=1, age=timedelta(hours=2)) == "not delivered within the maximum age of 1 h"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_age": timedelta(0)},
        {"base": timedelta(0)},
        {"base": timedelta(seconds=10), "cap": timedelta(seconds=5)},
    ],
)
def test_unusable_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
