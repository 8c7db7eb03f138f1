"""Prescription and line-item states (EPS codes) and the transitions the gateway allows."""

from __future__ import annotations

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

_FINAL = {EXPIRED, CANCELLED, DISPENSED, NOT_DISPENSED}

# The one table of allowed prescription transitions: (from, to).
PRESCRIPTION_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (TO_BE_DISPENSED, WITH_DISPENSER),
        (TO_BE_DISPENSED, CANCELLED),
        (TO_BE_DISPENSED, EXPIRED),
        (WITH_DISPENSER, WITH_DISPENSER_ACTIVE),
        (WITH_DISPENSER, DISPENSED),
        (WITH_DISPENSER, NOT_DISPENSED),
        (WITH_DISPENSER, CANCELLED),
        (WITH_DISPENSER, EXPIRED),
        (WITH_DISPENSER, TO_BE_DISPENSED),  # returned by the provider for re-routing
        (WITH_DISPENSER_ACTIVE, DISPENSED),
        (WITH_DISPENSER_ACTIVE, NOT_DISPENSED),
        (WITH_DISPENSER_ACTIVE, EXPIRED),
        (WITH_DISPENSER_ACTIVE, CANCELLED),  # homecare: the deliveries not yet made are cancelled
    }
)

ITEM_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (ITEM_TO_BE_DISPENSED, ITEM_WITH_DISPENSER),
        (ITEM_TO_BE_DISPENSED, ITEM_CANCELLED),
        (ITEM_WITH_DISPENSER, ITEM_PARTIAL),
        (ITEM_WITH_DISPENSER, ITEM_FULLY_DISPENSED),
        (ITEM_WITH_DISPENSER, ITEM_NOT_DISPENSED),
        (ITEM_WITH_DISPENSER, ITEM_OWING),
        (ITEM_WITH_DISPENSER, ITEM_CANCELLED),
        (ITEM_PARTIAL, ITEM_FULLY_DISPENSED),
        (ITEM_OWING, ITEM_PARTIAL),
        (ITEM_OWING, ITEM_FULLY_DISPENSED),
        (ITEM_PARTIAL, ITEM_EXPIRED),
        (ITEM_PARTIAL, ITEM_CANCELLED),
        (ITEM_OWING, ITEM_CANCELLED),
        (ITEM_WITH_DISPENSER, ITEM_EXPIRED),
    }
)


def is_final(status: str) -> bool:
    return status in _FINAL


def check_prescription_transition(current: str, target: str) -> None:
    """Raise StateTransitionError unless `current` → `target` is in the table (staying put is allowed)."""
    if current != target and (current, target) not in PRESCRIPTION_TRANSITIONS:
        raise StateTransitionError(
            f"prescription cannot go from {current} {PRESCRIPTION_STATUS.get(current, '?')} "
            f"to {target} {PRESCRIPTION_STATUS.get(target, '?')}"
        )


def check_item_transition(current: str, target: str) -> None:
    if current != target and (current, target) not in ITEM_TRANSITIONS:
        raise StateTransitionError(
            f"line item cannot go from {current} {ITEM_STATUS.get(current, '?')} "
            f"to {target} {ITEM_STATUS.get(target, '?')}"
        )


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
        ("failed", "scheduled"),
        ("returned", "scheduled"),
    }
)


def check_delivery_transition(current: str | None, target: str) -> None:
    if (current, target) not in DELIVERY_TRANSITIONS:
        raise StateTransitionError(f"delivery cannot go from {current or 'nothing'} to {target}")
