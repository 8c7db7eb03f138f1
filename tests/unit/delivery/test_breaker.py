"""CircuitBreaker: closed → open after N failures → half-open after the reset time → closed or open again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.delivery.breaker import BreakerBoard, BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(clock, failure_threshold=3, reset_after=timedelta(seconds=30))


def test_opens_after_threshold_consecutive_failures_only() -> None:
    clock = FakeClock()
    b = _breaker(clock)
    b.record_failure()
    b.record_failure()
    b.record_success()  # resets the run
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.CLOSED and b.permits(10) == 10
    b.record_failure()
    assert b.state is BreakerState.OPEN
    assert b.permits(10) == 0


def test_half_opens_after_reset_time_and_allows_one_trial() -> None:
    clock = FakeClock()
    b = _breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.advance(29.9)
    assert b.state is BreakerState.OPEN
    clock.advance(0.1)
    assert b.state is BreakerState.HALF_OPEN
    assert b.permits(10) == 1
    assert b.permits(10) == 0  # one trial at a time
    b.record_success()
    assert b.state is BreakerState.CLOSED
    assert b.permits(10) == 10


def test_a_failed_trial_opens_again_for_a_full_reset_time() -> None:
    clock = FakeClock()
    b = _breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.advance(30)
    assert b.permits(1) == 1
    b.record_failure()
    assert b.state is BreakerState.OPEN
    clock.advance(29)
    assert b.permits(1) == 0
    clock.advance(1)
    assert b.state is BreakerState.HALF_OPEN


def test_a_released_trial_can_be_granted_again() -> None:
    clock = FakeClock()
    b = _breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.advance(30)
    assert b.permits(1) == 1
    b.release()  # nothing was sent after all
    assert b.state is BreakerState.HALF_OPEN
    assert b.permits(1) == 1


def test_late_answers_while_open_change_nothing() -> None:
    clock = FakeClock()
    b = _breaker(clock)
    for _ in range(3):
        b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state is BreakerState.OPEN
    clock.advance(30)
    assert b.state is BreakerState.HALF_OPEN  # the late failure did not restart the reset time


def test_board_keeps_one_breaker_per_endpoint() -> None:
    clock = FakeClock()
    board = BreakerBoard(clock, failure_threshold=1)
    board("https://a.example/$process-message").record_failure()
    assert board("https://a.example/$process-message").state is BreakerState.OPEN
    assert board("https://b.example/$process-message").state is BreakerState.CLOSED
    assert board.states() == {
        "https://a.example/$process-message": BreakerState.OPEN,
        "https://b.example/$process-message": BreakerState.CLOSED,
    }
