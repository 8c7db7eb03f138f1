"""Prescription, line-item and delivery states (EPS codes), the one transition table per level, and `settle`.

`settle` is the rule that turns what the provider reported (its active dispense notifications and the
deliveries made) into the prescription's and its line items' status; the services check its answer against
the tables below before storing it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gateway.errors import StateTransitionError

# Prescription status, https://fhir.nhs.uk/CodeSystem/EPS-task-business-status
TO_BE_DISPENSED = "0001"
WITH_DISPENSER = "0002"
WITH_DISPENSER_ACTIVE = "0003"
EXPIRED = "0004"
CANCELLED = "0005"
DISPENSED = "0006"
NOT_DISPENSED = "0007"

PRESCRIPTION_STATUS = {
    TO_BE_DISPENSED: "To be Dispensed",
    WITH_DISPENSER: "With Dispenser",
    WITH_DISPENSER_ACTIVE: "With Dispenser - Active",
    EXPIRED: "Expired",
    CANCELLED: "Cancelled",
    DISPENSED: "Dispensed",
    NOT_DISPENSED: "Not Dispensed",
}

# FHIR Task.status for each prescription status (the EPS tracker's Tasks, the webhook events' Tasks).
TASK_STATUS = {
    TO_BE_DISPENSED: "ready",
    WITH_DISPENSER: "in-progress",
    WITH_DISPENSER_ACTIVE: "in-progress",
    EXPIRED: "failed",
    CANCELLED: "cancelled",
    DISPENSED: "completed",
    NOT_DISPENSED: "completed",
}

# Line-item status, https://fhir.nhs.uk/CodeSystem/medicationdispense-type
ITEM_FULLY_DISPENSED = "0001"
ITEM_NOT_DISPENSED = "0002"
ITEM_PARTIAL = "0003"
ITEM_OWING = "0004"
ITEM_CANCELLED = "0005"
ITEM_EXPIRED = "0006"
ITEM_TO_BE_DISPENSED = "0007"
ITEM_WITH_DISPENSER = "0008"

ITEM_STATUS = {
    ITEM_FULLY_DISPENSED: "Item fully dispensed",
    ITEM_NOT_DISPENSED: "Item not dispensed",
    ITEM_PARTIAL: "Item dispensed - partial",
    ITEM_OWING: "Item not dispensed owing",
    ITEM_CANCELLED: "Item cancelled",
    ITEM_EXPIRED: "Expired",
    ITEM_TO_BE_DISPENSED: "Item to be dispensed",
    ITEM_WITH_DISPENSER: "Item with dispenser",
}

# What a MedicationDispense.type may say: the outcomes of dispensing (0006-0008 are the gateway's to set).
DISPENSE_OUTCOMES = frozenset({ITEM_FULLY_DISPENSED, ITEM_NOT_DISPENSED, ITEM_PARTIAL, ITEM_OWING, ITEM_CANCELLED})
OPEN_ITEMS = frozenset({ITEM_TO_BE_DISPENSED, ITEM_WITH_DISPENSER, ITEM_PARTIAL, ITEM_OWING})

_FINAL = {EXPIRED, CANCELLED, DISPENSED, NOT_DISPENSED}
# Statuses in which dispensing and deliveries move the prescription (`settle` applies).
SETTLING = frozenset({WITH_DISPENSER, WITH_DISPENSER_ACTIVE, DISPENSED, NOT_DISPENSED})


class Move(StrEnum):
    """How a transition may happen: by a report moving forward, or only by correcting an earlier report
    (a dispense notification withdrawn or amended)."""

    FORWARD = "forward"
    CORRECTION = "correction"


F, C = Move.FORWARD, Move.CORRECTION

# The one table of prescription transitions: (from, to) → how. Staying put is always allowed.
PRESCRIPTION_TRANSITIONS: Mapping[tuple[str, str], Move] = {
    (TO_BE_DISPENSED, WITH_DISPENSER): F,  # the provider acknowledged the order
    (TO_BE_DISPENSED, CANCELLED): F,
    (TO_BE_DISPENSED, EXPIRED): F,
    (WITH_DISPENSER, WITH_DISPENSER_ACTIVE): F,  # the first supply
    (WITH_DISPENSER, DISPENSED): F,
    (WITH_DISPENSER, NOT_DISPENSED): F,
    (WITH_DISPENSER, CANCELLED): F,
    (WITH_DISPENSER, EXPIRED): F,
    (WITH_DISPENSER, TO_BE_DISPENSED): F,  # returned by the provider (EPS return)
    (WITH_DISPENSER_ACTIVE, DISPENSED): F,  # every authorised delivery supplied, or every line closed
    (WITH_DISPENSER_ACTIVE, NOT_DISPENSED): F,
    (WITH_DISPENSER_ACTIVE, EXPIRED): F,
    (WITH_DISPENSER_ACTIVE, CANCELLED): F,  # homecare: the deliveries not yet made are cancelled
    (WITH_DISPENSER_ACTIVE, WITH_DISPENSER): C,  # the only supply withdrawn
    (DISPENSED, WITH_DISPENSER_ACTIVE): C,
    (DISPENSED, WITH_DISPENSER): C,
    (DISPENSED, NOT_DISPENSED): C,
    (NOT_DISPENSED, WITH_DISPENSER): C,
    (NOT_DISPENSED, WITH_DISPENSER_ACTIVE): C,
    (NOT_DISPENSED, DISPENSED): C,
}

ITEM_TRANSITIONS: Mapping[tuple[str, str], Move] = {
    (ITEM_TO_BE_DISPENSED, ITEM_WITH_DISPENSER): F,
    (ITEM_TO_BE_DISPENSED, ITEM_CANCELLED): F,
    (ITEM_TO_BE_DISPENSED, ITEM_EXPIRED): F,
    (ITEM_WITH_DISPENSER, ITEM_PARTIAL): F,
    (ITEM_WITH_DISPENSER, ITEM_FULLY_DISPENSED): F,
    (ITEM_WITH_DISPENSER, ITEM_NOT_DISPENSED): F,
    (ITEM_WITH_DISPENSER, ITEM_OWING): F,
    (ITEM_WITH_DISPENSER, ITEM_CANCELLED): F,
    (ITEM_WITH_DISPENSER, ITEM_EXPIRED): F,
    (ITEM_WITH_DISPENSER, ITEM_TO_BE_DISPENSED): F,  # returned by the provider
    (ITEM_PARTIAL, ITEM_FULLY_DISPENSED): F,
    (ITEM_PARTIAL, ITEM_OWING): F,  # a delivery could not include this line
    (ITEM_PARTIAL, ITEM_NOT_DISPENSED): F,  # the rest will not be supplied
    (ITEM_PARTIAL, ITEM_EXPIRED): F,
    (ITEM_PARTIAL, ITEM_CANCELLED): F,
    (ITEM_OWING, ITEM_PARTIAL): F,
    (ITEM_OWING, ITEM_FULLY_DISPENSED): F,
    (ITEM_OWING, ITEM_NOT_DISPENSED): F,
    (ITEM_OWING, ITEM_CANCELLED): F,
    (ITEM_OWING, ITEM_EXPIRED): F,
    (ITEM_FULLY_DISPENSED, ITEM_WITH_DISPENSER): C,
    (ITEM_FULLY_DISPENSED, ITEM_PARTIAL): C,
    (ITEM_FULLY_DISPENSED, ITEM_OWING): C,
    (ITEM_FULLY_DISPENSED, ITEM_NOT_DISPENSED): C,
    (ITEM_FULLY_DISPENSED, ITEM_CANCELLED): C,
    (ITEM_PARTIAL, ITEM_WITH_DISPENSER): C,
    (ITEM_OWING, ITEM_WITH_DISPENSER): C,
    (ITEM_NOT_DISPENSED, ITEM_WITH_DISPENSER): C,
    (ITEM_NOT_DISPENSED, ITEM_PARTIAL): C,
    (ITEM_NOT_DISPENSED, ITEM_OWING): C,
    (ITEM_NOT_DISPENSED, ITEM_FULLY_DISPENSED): C,
    (ITEM_NOT_DISPENSED, ITEM_CANCELLED): C,
    (ITEM_CANCELLED, ITEM_WITH_DISPENSER): C,  # only a line a dispense notification cancelled is in SETTLING
    (ITEM_CANCELLED, ITEM_PARTIAL): C,
    (ITEM_CANCELLED, ITEM_OWING): C,
    (ITEM_CANCELLED, ITEM_FULLY_DISPENSED): C,
    (ITEM_CANCELLED, ITEM_NOT_DISPENSED): C,
}


def is_final(status: str) -> bool:
    return status in _FINAL


def check_prescription_transition(current: str, target: str, *, correction: bool = False) -> None:
    """Raise StateTransitionError unless `current` → `target` is in the table (staying put is allowed).
    A correction-only move needs `correction`."""
    move = PRESCRIPTION_TRANSITIONS.get((current, target))
    if current != target and (move is None or (move is Move.CORRECTION and not correction)):
        raise StateTransitionError(
            f"prescription cannot go from {current} {PRESCRIPTION_STATUS.get(current, '?')} "
            f"to {target} {PRESCRIPTION_STATUS.get(target, '?')}"
        )


def check_item_transition(current: str, target: str, *, correction: bool = False) -> None:
    move = ITEM_TRANSITIONS.get((current, target))
    if current != target and (move is None or (move is Move.CORRECTION and not correction)):
        raise StateTransitionError(
            f"line item cannot go from {current} {ITEM_STATUS.get(current, '?')} "
            f"to {target} {ITEM_STATUS.get(target, '?')}"
        )


@dataclass(frozen=True, slots=True)
class Line:
    """What `settle` needs of a line item."""

    id: str
    deliveries_authorised: int


@dataclass(frozen=True, slots=True)
class Settled:
    status: str
    items: dict[str, str]


def settle(lines: Sequence[Line], notifications: Iterable[Mapping[str, str]], deliveries_made: int) -> Settled:
    """The status of an acknowledged prescription from its active dispense notifications (oldest first, each a
    line-item id → status) and the deliveries made.

    A line's status is the one its latest notification gave, else 0008 With Dispenser. A line still 0008 or
    0003 is fully dispensed once as many deliveries were made as it authorises. The prescription is 0002 until
    anything is supplied or owed, then 0003; once no line is open it is 0006 if anything was supplied, else 0007.
    """
    items = {line.id: ITEM_WITH_DISPENSER for line in lines}
    for notification in notifications:
        items.update({item: status for item, status in notification.items() if item in items})
    for line in lines:
        if items[line.id] in (ITEM_WITH_DISPENSER, ITEM_PARTIAL) and deliveries_made >= line.deliveries_authorised:
            items[line.id] = ITEM_FULLY_DISPENSED
    return Settled(prescription_status(items.values(), deliveries_made), items)


def prescription_status(items: Iterable[str], deliveries_made: int) -> str:
    statuses = list(items)
    if any(s in OPEN_ITEMS for s in statuses):
        started = deliveries_made > 0 or any(s in (ITEM_FULLY_DISPENSED, ITEM_PARTIAL, ITEM_OWING) for s in statuses)
        return WITH_DISPENSER_ACTIVE if started else WITH_DISPENSER
    supplied = deliveries_made > 0 or ITEM_FULLY_DISPENSED in statuses
    return DISPENSED if supplied else NOT_DISPENSED


def check_settled(status: str, items: Mapping[str, str], settled: Settled, *, correction: bool = False) -> None:
    """Raise StateTransitionError unless moving from (`status`, `items`) to `settled` is allowed, changing nothing."""
    if status not in SETTLING:
        raise StateTransitionError(
            f"prescription is {status} {PRESCRIPTION_STATUS.get(status, '?')}: only a prescription with its "
            "provider is dispensed or delivered"
        )
    for item, target in settled.items.items():
        check_item_transition(items[item], target, correction=correction)
    check_prescription_transition(status, settled.status, correction=correction)


# Homecare delivery states, https://fhir.homecaregateway.uk/CodeSystem/homecare-delivery-status
DELIVERY_STATES = ("scheduled", "dispatched", "delivered", "failed", "returned")
DELIVERY_TRANSITIONS: frozenset[tuple[str | None, str]] = frozenset(
    {
        (None, "scheduled"),
        (None, "dispatched"),
        ("scheduled", "scheduled"),  # rescheduled
        ("scheduled", "dispatched"),
        ("scheduled", "failed"),
        ("dispatched", "delivered"),
        ("dispatched", "failed"),
        ("dispatched", "returned"),
        ("failed", "scheduled"),  # re-arranged
        ("failed", "dispatched"),
        ("returned", "scheduled"),
        ("returned", "dispatched"),
    }
)
# A delivery on its way when its prescription ended (completed, cancelled, expired) may still conclude.
CONCLUDING_DELIVERY = frozenset({("dispatched", "delivered"), ("dispatched", "failed"), ("dispatched", "returned")})


def check_delivery_transition(current: str | None, target: str) -> None:
    if (current, target) not in DELIVERY_TRANSITIONS:
        raise StateTransitionError(f"delivery cannot go from {current or 'nothing'} to {target}")


class Party(StrEnum):
    """Who a failed delivery is attributable to."""

    PATIENT = "patient"
    PROVIDER = "provider"
    TRUST = "trust"
    UNATTRIBUTED = "unattributed"


# https://fhir.homecaregateway.uk/CodeSystem/homecare-failed-delivery-reason: code → (display, attributable to).
# The CodeSystem leaves an unreachable address unattributed; we count it against the patient, whose address and
# access it is. "other" names nobody: its text says why.
FAILED_DELIVERY_REASONS: Mapping[str, tuple[str, Party]] = {
    "patient-not-available": ("Patient not available", Party.PATIENT),
    "patient-declined": ("Patient declined delivery", Party.PATIENT),
    "address-incorrect": ("Address incorrect or inaccessible", Party.PATIENT),
    "stock-unavailable": ("Stock unavailable", Party.PROVIDER),
    "cold-chain-failure": ("Cold chain failure", Party.PROVIDER),
    "courier-failure": ("Courier failure", Party.PROVIDER),
    "prescription-not-received": ("Prescription not received", Party.TRUST),
    "clinical-hold": ("Clinical hold", Party.TRUST),
    "other": ("Other", Party.UNATTRIBUTED),
}
