"""Set-based SQL for pull delivery: lease a page of orders and apply a batch of acknowledgements in a few statements.

`Task/$release` and the batch acknowledgement path handle up to a few hundred orders per transaction; doing that
through the ORM unit of work costs 20–30 statements per order. Everything here is a constant number of
statements per call (chunked at `_CHUNK` ids), whatever the number of orders. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select as core_select
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain.outbox import OutboxState, sources
from gateway.store import bulk, outbox_queue
from gateway.store.tables import DeliveryAttempt, FhirMessage, OutboxEntry, Prescription, PrescriptionItem

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Leased:
    """An order `lease` took: what the release answer and its timeline and audit rows need."""

    outbox_id: int
    message_id: str
    prescription_id: str
    lease_token: int
    attempts: int
    """Attempts counted so far, this one included."""
    queued_at: datetime
    """When the order was queued (or replayed): a retry policy's maximum age counts from here."""


async def lease(
    session: AsyncSession,
    *,
    provider_ods: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    short_form_id: str | None,
    skip_locked: bool,
    attempt_kind: str = "release",
) -> list[Leased]:
    """Lease up to `limit` deliverable orders of a provider in three statements, bumping each fencing token.

    The same orders as `outbox_queue.claim_orders` (`outbox_queue.take_deliverable`), with a `leased` delivery attempt
    row of `attempt_kind` (a pull `release`, a `push`) per order.
    """
    found = await outbox_queue.take_deliverable(
        session, select(col(OutboxEntry.id)), provider_ods, now, short_form_id, limit, skip_locked=skip_locked
    )
    ids = [i for i in found if i is not None]
    if not ids:
        return []
    bump = (
        update(OutboxEntry)
        .where(col(OutboxEntry.id).in_(ids), col(OutboxEntry.state).in_(sources(OutboxState.LEASED)))
        .values(
            state=OutboxState.LEASED,
            lease_token=OutboxEntry.lease_token + 1,
            lease_expires_at=lease_until,
            attempts=OutboxEntry.attempts + 1,
        )
        .returning(
            col(OutboxEntry.id), col(OutboxEntry.message_id), col(OutboxEntry.prescription_id),
            col(OutboxEntry.lease_token), col(OutboxEntry.attempts), col(OutboxEntry.queued_at),
            col(OutboxEntry.created_at),
        )
    )
    rows = await _rows(session, bump)
    leased = sorted(
        (Leased(int(r[0]), r[1], r[2], int(r[3]), int(r[4]), r[5] or r[6]) for r in rows),
        key=lambda x: x.outbox_id,
    )
    await bulk.insert_rows(
        session,
        DeliveryAttempt,
        [
            {
                "outbox_id": x.outbox_id, "at": now, "kind": attempt_kind, "outcome": "leased",
                "lease_token": x.lease_token,
            }
            for x in leased
        ],
    )
    return leased


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """A leased order's sealed bundle (opened by the caller) and its prescription's short-form id."""

    body_enc: bytes
    sender_ods: str | None
    short_form_id: str


async def stored_orders(session: AsyncSession, message_ids: Sequence[str]) -> dict[str, StoredOrder]:
    """The sealed message and short-form id of each order, one query per `_CHUNK` ids."""
    found: dict[str, StoredOrder] = {}
    for start in range(0, len(message_ids), _CHUNK):
        chunk = list(message_ids[start : start + _CHUNK])
        stmt = (
            core_select(col(FhirMessage.id), col(FhirMessage.body_enc), col(FhirMessage.sender_ods),
                   col(Prescription.short_form_id))
            .join(Prescription, col(Prescription.id) == col(FhirMessage.prescription_id))
            .where(col(FhirMessage.id).in_(chunk))
        )
        for message_id, body, sender, short_form in await _rows(session, stmt):
            found[message_id] = StoredOrder(body, sender, short_form)
    return found


@dataclass(slots=True)
class AckTarget:
    """An order an acknowledgement names, with what applying it needs (never the message body)."""

    outbox_id: int
    message_id: str
    prescription_id: str
    provider_ods: str
    state: str
    queued_at: datetime | None
    created_at: datetime
    event: str
    prescription_status: str
    lease_token: int


async def ack_targets(session: AsyncSession, message_ids: Sequence[str], *, lock: bool) -> dict[str, AckTarget]:
    """The orders with these MessageHeader ids, their message's event and their prescription's status.

    With `lock` (PostgreSQL) the outbox rows are locked (in id order), so a concurrent acknowledgement or claim of
    the same order waits for this transaction instead of applying twice; SQLite's BEGIN IMMEDIATE already
    serialises writers.
    """
    found: dict[str, AckTarget] = {}
    ids = sorted(set(message_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        stmt = (
            core_select(
                col(OutboxEntry.id), col(OutboxEntry.message_id), col(OutboxEntry.prescription_id),
                col(OutboxEntry.provider_ods), col(OutboxEntry.state), col(OutboxEntry.queued_at),
                col(OutboxEntry.created_at), col(FhirMessage.event), col(Prescription.status),
                col(OutboxEntry.lease_token),
            )
            .join(FhirMessage, col(FhirMessage.id) == col(OutboxEntry.message_id))
            .join(Prescription, col(Prescription.id) == col(OutboxEntry.prescription_id))
            .where(col(OutboxEntry.message_id).in_(chunk))
            .order_by(col(OutboxEntry.id))
        )
        if lock:
            stmt = stmt.with_for_update(of=OutboxEntry)
        for row in await _rows(session, stmt):
            found[row[1]] = AckTarget(int(row[0]), *row[1:])
    return found


async def items_of(session: AsyncSession, prescription_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """(item id, status) of each prescription's line items, in line order."""
    found: dict[str, list[tuple[str, str]]] = {p: [] for p in prescription_ids}
    ids = sorted(set(prescription_ids))
    for start in range(0, len(ids), _CHUNK):
        stmt = (
            core_select(col(PrescriptionItem.prescription_id), col(PrescriptionItem.id), col(PrescriptionItem.status))
            .where(col(PrescriptionItem.prescription_id).in_(ids[start : start + _CHUNK]))
            .order_by(col(PrescriptionItem.prescription_id), col(PrescriptionItem.line_no))
        )
        for prescription_id, item_id, status in await _rows(session, stmt):
            found[prescription_id].append((item_id, status))
    return found


async def update_outbox(session: AsyncSession, changes: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """Set columns of outbox rows: (id, {column: value}); one UPDATE per distinct set of values."""
    await _update_grouped(session, OutboxEntry, changes)


async def update_statuses(session: AsyncSession, changes: Sequence[tuple[str, str]], now: datetime) -> None:
    """Set prescriptions' status ((id, status) pairs) and their updated_at to `now`."""
    await _update_grouped(session, Prescription, [(p, {"status": s, "updated_at": now}) for p, s in changes])


async def update_item_statuses(session: AsyncSession, changes: Sequence[tuple[str, str]]) -> None:
    """Set line items' status ((id, status) pairs)."""
    await _update_grouped(session, PrescriptionItem, [(i, {"status": s}) for i, s in changes])


async def _update_grouped(
    session: AsyncSession, table: type[Any], changes: Sequence[tuple[Any, dict[str, Any]]]
) -> None:
    """Set-based: rows that get the same values are updated by one `UPDATE … WHERE id IN (…)` per chunk."""
    groups: dict[tuple[tuple[str, Any], ...], list[Any]] = {}
    for key, values in changes:
        groups.setdefault(tuple(sorted(values.items())), []).append(key)
    connection = await session.connection()
    pk = table.id
    for group, keys in groups.items():
        for start in range(0, len(keys), _CHUNK):
            stmt = update(table).where(col(pk).in_(keys[start : start + _CHUNK])).values(dict(group))
            await connection.execute(stmt)


async def _rows(session: AsyncSession, stmt: Any) -> list[Any]:
    """Rows of a Core select of plain columns (sqlmodel's typed `select` stops at four columns)."""
    return list((await (await session.connection()).execute(stmt)).all())


async def message_event(session: AsyncSession, message_id: str) -> str | None:
    """A stored message's event code, without loading (or decrypting) its body."""
    return (await session.exec(select(col(FhirMessage.event)).where(col(FhirMessage.id) == message_id))).first()
