"""The rows a plan writes, typed: one TypedDict per table (the shape the bulk insert takes), and `Rows`, all of them.

`planning` (new orders, AMEND and CANCEL through `changes`) fills one `Rows` for a whole export, which `ingest`
writes in one transaction; `gateway.delivery.rerouting` fills one for the order it re-routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypedDict

from gateway.domain.outbox import OutboxState


class PrescriptionRow(TypedDict):
    id: str
    short_form_id: str
    trust_ods: str
    rx_number: str
    rx_version: int
    part: int
    parts: int
    action: str
    status: str
    provider_ods: str | None
    service_type: str | None
    route_reason: str | None
    nhs_index: str
    canonical_enc: bytes
    content_sha256: str
    inbound_id: str
    deliveries_authorised: int
    deliveries_made: int
    supply_until: date | None
    created_at: datetime
    updated_at: datetime


class ItemRow(TypedDict):
    id: str
    prescription_id: str
    line_no: int
    dmd_code: str
    description: str
    quantity: str
    quantity_unit: str
    days_per_delivery: int
    deliveries_authorised: int
    status: str


class MessageRow(TypedDict):
    """An outbound FHIR message, its bundle sealed for the trust."""

    id: str
    direction: str
    event: str
    prescription_id: str
    sender_ods: str
    receiver_ods: str
    body_enc: bytes
    created_at: datetime


class OutboxRow(TypedDict):
    message_id: str
    prescription_id: str
    order_key: str
    provider_ods: str
    state: OutboxState
    available_at: datetime
    lease_token: int
    attempts: int
    created_at: datetime


class EventRow(TypedDict):
    """One entry in a prescription's timeline (never patient data)."""

    prescription_id: str
    at: datetime
    kind: str
    status: str | None
    actor_ods: str | None
    message_id: str | None
    detail: str | None


def event_row(
    prescription_id: str,
    at: datetime,
    kind: str,
    status: str | None,
    actor: str | None,
    message_id: str | None,
    detail: str | None,
) -> EventRow:
    return {
        "prescription_id": prescription_id,
        "at": at,
        "kind": kind,
        "status": status,
        "actor_ods": actor,
        "message_id": message_id,
        "detail": detail,
    }


@dataclass(frozen=True, slots=True)
class Update:
    """A conditional UPDATE: applied only if the row still has `expect`, else the plan is stale."""

    table: type[Any]
    key: Any
    expect: dict[str, Any]
    values: dict[str, Any]


@dataclass(slots=True)
class Rows:
    """Every row a plan writes, in the order it is written (a message before its outbox row)."""

    prescriptions: list[PrescriptionRow] = field(default_factory=list)
    items: list[ItemRow] = field(default_factory=list)
    messages: list[MessageRow] = field(default_factory=list)
    outbox: list[OutboxRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    supply: list[dict[str, Any]] = field(default_factory=list)  # `store.supply_history.prescribed`
    updates: list[Update] = field(default_factory=list)

    def mark(self) -> tuple[int, ...]:
        """Where each list ends now, for `rollback`."""
        return tuple(len(rows) for rows in self._lists())

    def rollback(self, mark: tuple[int, ...]) -> None:
        """Forget every row planned since `mark`."""
        for rows, length in zip(self._lists(), mark, strict=True):
            del rows[length:]

    def extend(self, other: Rows) -> None:
        """Append `other`'s rows after these."""
        for rows, more in zip(self._lists(), other._lists(), strict=True):
            rows.extend(more)

    def _lists(self) -> tuple[list[Any], ...]:
        return (self.prescriptions, self.items, self.messages, self.outbox, self.events, self.supply, self.updates)
