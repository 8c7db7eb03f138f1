"""The outbox transition table: what it allows passes, what it does not raises StateTransitionError naming both."""

from __future__ import annotations

import itertools

import pytest

from gateway.domain.outbox import (
    OUTBOX_TRANSITIONS,
    STATES,
    WAITING,
    OutboxState,
    answered,
    check_outbox_transition,
    sources,
)
from gateway.errors import StateTransitionError

ALLOWED = sorted(OUTBOX_TRANSITIONS, key=lambda pair: (pair[0] or "", pair[1]))
FORBIDDEN = [
    (current, target)
    for current, target in itertools.product([None, *OutboxState], OutboxState)
    if (current, target) not in OUTBOX_TRANSITIONS
]


def test_the_values_are_the_strings_stored_in_the_outbox_table() -> None:
    # Stored rows keep these strings: changing one would need a migration.
    assert STATES == ("queued", "leased", "acknowledged", "rejected", "cancelled", "dead", "dismissed")
    assert all(type(s) is str for s in STATES)
    assert WAITING == ("queued", "leased")


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_every_allowed_transition_passes_and_returns_the_target(
    current: OutboxState | None, target: OutboxState
) -> None:
    stored = None if current is None else current.value  # rows hold plain strings
    assert check_outbox_transition(stored, target, entry="m-1") is target


def test_most_pairs_are_forbidden() -> None:
    assert len(FORBIDDEN) == 8 * 7 - len(OUTBOX_TRANSITIONS)
    assert len(FORBIDDEN) > len(ALLOWED)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("cancelled", OutboxState.QUEUED),  # a withdrawn order is never sent
        ("cancelled", OutboxState.ACKNOWLEDGED),
        ("dismissed", OutboxState.QUEUED),  # a dismissed dead letter is never sent
        ("acknowledged", OutboxState.QUEUED),  # an acknowledged order is not replayed
        ("acknowledged", OutboxState.ACKNOWLEDGED),
        ("leased", OutboxState.CANCELLED),  # the provider may have it: it gets a cancellation instead
        ("queued", OutboxState.DEAD),  # only a push attempt gives up
        ("rejected", OutboxState.DISMISSED),
        (None, OutboxState.LEASED),  # a message is written queued
    ],
)
def test_a_forbidden_transition_is_refused_naming_the_entry_and_both_states(
    current: str | None, target: OutboxState
) -> None:
    assert (None if current is None else OutboxState(current), target) in FORBIDDEN
    with pytest.raises(StateTransitionError) as raised:
        check_outbox_transition(current, target, entry="5b0f6a9e")
    assert str(raised.value) == f"outbox entry 5b0f6a9e cannot go from {current or 'nothing'} to {target.value}"
    assert raised.value.code == "PRESCRIPTION_INVALID_STATE_TRANSITION"


def test_every_forbidden_pair_is_refused() -> None:
    for current, target in FORBIDDEN:
        with pytest.raises(StateTransitionError, match=f"cannot go from {current or 'nothing'} to {target}"):
            check_outbox_transition(current, target, entry="m")


def test_an_unknown_stored_state_is_refused() -> None:
    with pytest.raises(StateTransitionError, match="outbox entry m-2 is in an unknown state 'sent'"):
        check_outbox_transition("sent", OutboxState.QUEUED, entry="m-2")


def test_sources_are_the_table_read_backwards() -> None:
    assert sources(OutboxState.LEASED) == (OutboxState.QUEUED, OutboxState.LEASED)  # due, or its lease ran out
    assert sources(OutboxState.CANCELLED) == (OutboxState.QUEUED,)
    assert sources(OutboxState.DISMISSED) == (OutboxState.DEAD,)
    for target in OutboxState:
        assert set(sources(target)) == {c for c, t in OUTBOX_TRANSITIONS if t is target and c is not None}


@pytest.mark.parametrize(
    ("code", "state"),
    [("ok", OutboxState.ACKNOWLEDGED), ("fatal-error", OutboxState.REJECTED), ("transient-error", OutboxState.QUEUED)],
)
def test_a_response_code_moves_a_leased_order(code: str, state: OutboxState) -> None:
    assert answered(code) is state
    assert check_outbox_transition("leased", answered(code), entry="m") is state
