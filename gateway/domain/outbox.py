"""Outbox states (a message waiting for, or handed to, a provider) and the one table of their transitions.

Every write of `outbox.state` goes through `check_outbox_transition`; a set-based UPDATE takes its allowed source
states from `sources`, so that SQL and Python obey the same table.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from gateway.errors import StateTransitionError


class OutboxState(StrEnum):
    """The values stored in `outbox.state`."""

    QUEUED = "queued"  # waiting to be released or pushed (again)
    LEASED = "leased"  # handed to the provider under a fencing token, answer awaited
    ACKNOWLEDGED = "acknowledged"  # the provider answered ok
    REJECTED = "rejected"  # the provider answered fatal-error, or returned the prescription
    CANCELLED = "cancelled"  # withdrawn before the provider had it (cancelled or expired prescription)
    DEAD = "dead"  # push gave up: an operator replays or dismisses it
    DISMISSED = "dismissed"  # a dead letter handled outside the gateway, never to be sent


# The stored values as plain strings, in the order above: command-line choices (click matches an enum by its name)
# and the console's columns.
STATES: tuple[str, ...] = tuple(s.value for s in OutboxState)
# Not answered yet: a later message of the same order key waits behind these (and so do the queue-depth figures).
WAITING = (OutboxState.QUEUED, OutboxState.LEASED)

Q, L, A, R, C, D, X = OutboxState

# The one table of outbox transitions: (from, to) → why. None is "no row yet": a message is written queued.
OUTBOX_TRANSITIONS: Mapping[tuple[OutboxState | None, OutboxState], str] = {
    (None, Q): "an order, cancellation or re-routed order written for a provider",
    (Q, L): "released to the provider (pull) or claimed by a push worker",
    (L, L): "an expired lease taken again",
    (L, Q): "the provider answered transient-error, or a push attempt failed: retried later",
    (L, A): "the provider answered ok",
    (L, R): "the provider answered fatal-error",
    (L, D): "push gave up",
    # A provider may answer an order after it was queued again (transient-error) or given up on.
    (Q, Q): "the provider answered transient-error again",
    (Q, A): "a late ok",
    (Q, R): "a late fatal-error",
    (D, A): "a late ok to an order push gave up on",
    (D, R): "a late fatal-error to an order push gave up on",
    (Q, C): "cancelled or expired before the provider had it",
    (A, R): "the provider returned the prescription",
    (D, Q): "replayed by an operator, or a late transient-error",
    (R, Q): "replayed by an operator",
    (D, X): "dismissed by an operator",
}


def check_outbox_transition(current: str | None, target: OutboxState, *, entry: str) -> OutboxState:
    """`target`, once `current` → `target` is found in the table; else StateTransitionError naming `entry` (a
    message id) and both states."""
    source = None if current is None else _state(current, entry)
    if (source, target) not in OUTBOX_TRANSITIONS:
        raise StateTransitionError(f"outbox entry {entry} cannot go from {source or 'nothing'} to {target}")
    return target


def answered(code: str) -> OutboxState:
    """Where a provider's response code (ok, transient-error, fatal-error) moves the order it answers."""
    if code == "transient-error":
        return OutboxState.QUEUED
    return OutboxState.REJECTED if code == "fatal-error" else OutboxState.ACKNOWLEDGED


def sources(target: OutboxState) -> tuple[OutboxState, ...]:
    """The states a stored message may be in to move to `target` (for an UPDATE's `WHERE state IN`)."""
    return tuple(s for s in OutboxState if (s, target) in OUTBOX_TRANSITIONS)


def _state(value: str, entry: str) -> OutboxState:
    try:
        return OutboxState(value)
    except ValueError:
        raise StateTransitionError(f"outbox entry {entry} is in an unknown state {value!r}") from None
