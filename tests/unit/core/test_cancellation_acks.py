"""What a provider's acknowledgement of a cancellation does: EPS cancels one line per message, so each
acknowledgement cancels its line, and the prescription is cancelled once none of its lines is open."""

from __future__ import annotations

import uuid

import pytest

from gateway.delivery.acknowledgements import response_effect
from gateway.domain import states as lifecycle
from gateway.errors import StateTransitionError
from gateway.fhir.cancellation import cancellation_message_id, cancelled_item

UPDATE = "prescription-order-update"
A, B, C = (str(uuid.uuid4()) for _ in range(3))
OPEN = lifecycle.ITEM_WITH_DISPENSER


def test_each_acknowledgement_cancels_its_line_and_the_last_the_prescription() -> None:
    items = [(A, OPEN), (B, OPEN)]
    kind, status, new = response_effect("ok", UPDATE, lifecycle.WITH_DISPENSER, items, cancellation_message_id(A))
    assert (kind, status, new) == ("item-cancelled", None, {A: lifecycle.ITEM_CANCELLED})
    items = [(A, lifecycle.ITEM_CANCELLED), (B, OPEN)]
    kind, status, new = response_effect("ok", UPDATE, lifecycle.WITH_DISPENSER, items, cancellation_message_id(B))
    assert (kind, status, new) == ("cancelled", lifecycle.CANCELLED, {B: lifecycle.ITEM_CANCELLED})


def test_a_complete_line_stays_as_it_is_and_does_not_hold_the_prescription_open() -> None:
    items = [(A, lifecycle.ITEM_FULLY_DISPENSED), (B, lifecycle.ITEM_PARTIAL)]
    found = response_effect("ok", UPDATE, lifecycle.WITH_DISPENSER_ACTIVE, items, cancellation_message_id(B))
    assert found == ("cancelled", lifecycle.CANCELLED, {B: lifecycle.ITEM_CANCELLED})
    # The complete line's own cancellation, acknowledged after: nothing left to change, no second `cancelled`.
    items = [(A, lifecycle.ITEM_FULLY_DISPENSED), (B, lifecycle.ITEM_CANCELLED)]
    found = response_effect("ok", UPDATE, lifecycle.CANCELLED, items, cancellation_message_id(A))
    assert found == ("item-cancelled", None, {})


def test_a_cancellation_naming_no_line_cancels_every_open_line() -> None:
    items = [(A, OPEN), (B, lifecycle.ITEM_OWING), (C, lifecycle.ITEM_NOT_DISPENSED)]
    found = response_effect("ok", UPDATE, lifecycle.WITH_DISPENSER, items, str(uuid.uuid4()))
    assert found == ("cancelled", lifecycle.CANCELLED, {A: lifecycle.ITEM_CANCELLED, B: lifecycle.ITEM_CANCELLED})


def test_a_final_prescription_refuses_the_acknowledgement_and_errors_change_nothing() -> None:
    with pytest.raises(StateTransitionError):
        response_effect("ok", UPDATE, lifecycle.DISPENSED, [(A, OPEN)], cancellation_message_id(A))
    assert response_effect("fatal-error", UPDATE, lifecycle.WITH_DISPENSER, [(A, OPEN)], "x") == (
        "provider-rejected",
        None,
        {},
    )


def test_the_message_id_names_its_line_alone() -> None:
    assert cancellation_message_id(A) == cancellation_message_id(A) != cancellation_message_id(B)
    assert uuid.UUID(cancellation_message_id(A)).version == 5
    assert cancelled_item(cancellation_message_id(B), [A, B, C]) == B
    assert cancelled_item(str(uuid.uuid4()), [A, B, C]) is None
