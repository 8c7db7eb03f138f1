"""The lifecycle tables: what they allow passes, what they do not raises StateTransitionError."""

from __future__ import annotations

import itertools

import pytest

from gateway.domain import states as lifecycle
from gateway.domain.states import (
    DELIVERY_STATES,
    DELIVERY_TRANSITIONS,
    ITEM_STATUS,
    ITEM_TRANSITIONS,
    PRESCRIPTION_STATUS,
    PRESCRIPTION_TRANSITIONS,
    Move,
    check_delivery_transition,
    check_item_transition,
    check_prescription_transition,
    is_final,
)
from gateway.errors import StateTransitionError

FINAL = [lifecycle.EXPIRED, lifecycle.CANCELLED, lifecycle.DISPENSED, lifecycle.NOT_DISPENSED]


FORWARD = sorted(pair for pair, move in PRESCRIPTION_TRANSITIONS.items() if move is Move.FORWARD)
CORRECTIONS = sorted(pair for pair, move in PRESCRIPTION_TRANSITIONS.items() if move is Move.CORRECTION)


@pytest.mark.parametrize(("current", "target"), FORWARD)
def test_allowed_prescription_transitions_pass(current: str, target: str) -> None:
    check_prescription_transition(current, target)
    check_prescription_transition(current, target, correction=True)  # a correction may also move forward


@pytest.mark.parametrize(("current", "target"), CORRECTIONS)
def test_corrections_need_a_correction(current: str, target: str) -> None:
    with pytest.raises(StateTransitionError):
        check_prescription_transition(current, target)
    check_prescription_transition(current, target, correction=True)


@pytest.mark.parametrize("status", sorted(PRESCRIPTION_STATUS))
def test_staying_put_is_allowed(status: str) -> None:
    check_prescription_transition(status, status)


@pytest.mark.parametrize(("current", "target"), [(f, t) for f in FINAL for t in PRESCRIPTION_STATUS if t != f])
def test_final_states_go_nowhere(current: str, target: str) -> None:
    assert is_final(current)
    with pytest.raises(StateTransitionError, match=f"from {current} .* to {target}"):
        check_prescription_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (lifecycle.TO_BE_DISPENSED, lifecycle.DISPENSED),  # never reached a dispenser
        (lifecycle.TO_BE_DISPENSED, lifecycle.WITH_DISPENSER_ACTIVE),
        (lifecycle.TO_BE_DISPENSED, lifecycle.NOT_DISPENSED),
        (lifecycle.DISPENSED, lifecycle.CANCELLED),  # every delivery made: too late to cancel (R-0004)
        (lifecycle.WITH_DISPENSER_ACTIVE, lifecycle.TO_BE_DISPENSED),
        (lifecycle.WITH_DISPENSER_ACTIVE, lifecycle.WITH_DISPENSER),
    ],
)
def test_forbidden_prescription_transitions_raise(current: str, target: str) -> None:
    with pytest.raises(StateTransitionError):
        check_prescription_transition(current, target)


def test_the_error_names_both_states() -> None:
    with pytest.raises(StateTransitionError) as info:
        check_prescription_transition(lifecycle.TO_BE_DISPENSED, lifecycle.DISPENSED)
    assert str(info.value) == "prescription cannot go from 0001 To be Dispensed to 0006 Dispensed"
    assert info.value.code == "PRESCRIPTION_INVALID_STATE_TRANSITION"


@pytest.mark.parametrize("correction", [False, True])
def test_every_prescription_pair_is_decided_by_the_table(correction: bool) -> None:
    for current, target in itertools.product(PRESCRIPTION_STATUS, repeat=2):
        move = PRESCRIPTION_TRANSITIONS.get((current, target))
        allowed = current == target or move is Move.FORWARD or (correction and move is Move.CORRECTION)
        try:
            check_prescription_transition(current, target, correction=correction)
        except StateTransitionError:
            assert not allowed, (current, target)
        else:
            assert allowed, (current, target)


def test_only_a_correction_leaves_a_final_state() -> None:
    leaving = {pair: move for pair, move in PRESCRIPTION_TRANSITIONS.items() if is_final(pair[0])}
    assert leaving and set(leaving.values()) == {Move.CORRECTION}
    # and only a dispensing outcome is corrected: cancelled and expired stay so
    assert {current for current, _ in leaving} == {lifecycle.DISPENSED, lifecycle.NOT_DISPENSED}
    assert not is_final(lifecycle.TO_BE_DISPENSED)
    assert not is_final(lifecycle.WITH_DISPENSER)
    assert not is_final(lifecycle.WITH_DISPENSER_ACTIVE)


def test_every_transition_uses_known_codes() -> None:
    assert {s for pair in PRESCRIPTION_TRANSITIONS for s in pair} <= set(PRESCRIPTION_STATUS)
    assert {s for pair in ITEM_TRANSITIONS for s in pair} <= set(ITEM_STATUS)
    assert {s for pair in DELIVERY_TRANSITIONS for s in pair if s is not None} <= set(DELIVERY_STATES)


@pytest.mark.parametrize(("current", "target"), sorted(p for p, m in ITEM_TRANSITIONS.items() if m is Move.FORWARD))
def test_allowed_item_transitions_pass(current: str, target: str) -> None:
    check_item_transition(current, target)


@pytest.mark.parametrize(("current", "target"), sorted(p for p, m in ITEM_TRANSITIONS.items() if m is Move.CORRECTION))
def test_item_corrections_need_a_correction(current: str, target: str) -> None:
    with pytest.raises(StateTransitionError, match="line item cannot go"):
        check_item_transition(current, target)
    check_item_transition(current, target, correction=True)


def test_expired_and_returned_items_are_never_corrected() -> None:
    assert not [p for p, m in ITEM_TRANSITIONS.items() if m is Move.CORRECTION and lifecycle.ITEM_EXPIRED in p]
    assert not [p for p in ITEM_TRANSITIONS if p[0] == lifecycle.ITEM_EXPIRED]


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (lifecycle.ITEM_FULLY_DISPENSED, lifecycle.ITEM_PARTIAL),
        (lifecycle.ITEM_FULLY_DISPENSED, lifecycle.ITEM_WITH_DISPENSER),
        (lifecycle.ITEM_CANCELLED, lifecycle.ITEM_WITH_DISPENSER),
        (lifecycle.ITEM_TO_BE_DISPENSED, lifecycle.ITEM_FULLY_DISPENSED),
        (lifecycle.ITEM_EXPIRED, lifecycle.ITEM_FULLY_DISPENSED),
    ],
)
def test_forbidden_item_transitions_raise(current: str, target: str) -> None:
    with pytest.raises(StateTransitionError, match="line item cannot go"):
        check_item_transition(current, target)


@pytest.mark.parametrize(("current", "target"), sorted(DELIVERY_TRANSITIONS, key=lambda p: (p[0] or "", p[1])))
def test_allowed_delivery_transitions_pass(current: str | None, target: str) -> None:
    check_delivery_transition(current, target)


def test_dispatched_delivery_can_be_delivered() -> None:
    check_delivery_transition("dispatched", "delivered")


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (None, "delivered"),  # nothing reported before: a delivery is dispatched first
        (None, "failed"),
        (None, "returned"),
        ("scheduled", "delivered"),
        ("delivered", "scheduled"),
        ("delivered", "delivered"),
        ("delivered", "returned"),
        ("dispatched", "dispatched"),
        ("failed", "delivered"),
        ("returned", "delivered"),
        ("failed", "returned"),
    ],
)
def test_forbidden_delivery_transitions_raise(current: str | None, target: str) -> None:
    with pytest.raises(StateTransitionError, match=f"delivery cannot go from {current or 'nothing'} to {target}"):
        check_delivery_transition(current, target)
