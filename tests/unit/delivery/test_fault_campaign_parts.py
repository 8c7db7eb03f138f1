"""The fault campaign's pure parts: the fault schedule and the report's arithmetic."""

from __future__ import annotations

from collections import Counter

import pytest

from gateway.bench.faults.report import Tally, tally_report
from gateway.bench.faults.schedule import DEFAULT_MIX, FAULTS, FaultMix, Schedule


def test_every_block_holds_each_fault_exactly_its_weight_and_the_seed_fixes_the_order() -> None:
    mix = FaultMix.parse(DEFAULT_MIX)
    size = sum(weight for _, weight in mix.weights)
    schedule = Schedule(mix, seed=3)
    drawn = [schedule.next() for _ in range(size * 5)]
    for start in range(0, len(drawn), size):
        assert Counter(drawn[start : start + size]) == Counter(dict(mix.weights))
    assert set(drawn[:size]) == set(FAULTS)  # every fault within the first block
    again = Schedule(mix, seed=3)
    assert [again.next() for _ in range(size * 5)] == drawn
    other = Schedule(mix, seed=4)
    assert [other.next() for _ in range(size * 5)] != drawn


def test_a_mix_without_kills_and_a_bad_mix() -> None:
    mix = FaultMix.parse(DEFAULT_MIX).without("kill-before-commit")
    assert "kill-before-commit" not in mix.render() and "ok=10" in mix.render()
    assert FaultMix.parse(mix.render()) == mix
    with pytest.raises(ValueError, match="unknown fault 'explode'"):
        FaultMix.parse("ok=1,explode=2")
    with pytest.raises(ValueError, match="whole number"):
        FaultMix.parse("ok=x")
    with pytest.raises(ValueError, match="positive weight for ok"):
        FaultMix.parse("http-500=3")


def _receiver(applied: list[str], duplicates: int = 0, effects: int = 0) -> dict[str, object]:
    return {
        "applied": applied, "duplicate_deliveries": duplicates, "duplicate_effects": effects,
        "receipts": len(applied) + duplicates, "faults": {"ok": len(applied)},
    }


def test_the_report_counts_lost_stuck_and_duplicates_from_both_sides() -> None:
    rows = [("m1", "acknowledged", "RX1"), ("m2", "acknowledged", "RX2"), ("m3", "leased", "RX3"),
            ("m4", "dead", "RX4")]
    tally = Tally(kills_random=7, kills_after_answer_before_commit=2, accepted_rx={"RX1", "RX2", "RX3", "RX4", "RX5"})
    # m2 is acknowledged but the provider never applied it; RX5 was accepted but never reached the outbox;
    # "m9" took effect although the gateway never queued it.
    report = tally_report(
        database="postgresql", duration=1.0, workers=2, rows=rows, fenced=1, interrupted=3,
        receiver=_receiver(["m1", "m3", "m9"], duplicates=4, effects=1), tally=tally,
    )
    assert report.messages_accepted == 4
    assert report.delivered == 1  # m1 only: acknowledged and applied
    assert report.lost == 3  # m2, m4 (never applied) and RX5 (never queued)
    assert report.stuck_in_flight == 1 and report.dead == 1
    assert report.unexpected_effects == 1
    assert (report.duplicate_deliveries, report.duplicate_effects) == (4, 1)
    assert report.kills == 9
    assert not report.passed and report.as_dict()["passed"] is False


def test_a_clean_run_passes() -> None:
    rows = [("m1", "acknowledged", "RX1"), ("m2", "acknowledged", "RX2")]
    report = tally_report(
        database="sqlite", duration=1.0, workers=1, rows=rows, fenced=0, interrupted=2,
        receiver=_receiver(["m1", "m2"], duplicates=5), tally=Tally(accepted_rx={"RX1", "RX2"}),
    )
    assert (report.lost, report.duplicate_effects, report.stuck_in_flight) == (0, 0, 0)
    assert report.delivered == 2 and report.passed
