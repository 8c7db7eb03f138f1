"""Set-based SQL for pull delivery: lease a page of orders and apply a batch of acknowledgements in a few statements.

`Task/$release` and the batch acknowledgement path handle up to a few hundred orders per transaction; doing that
through the ORM unit of work costs 20–30 statements per order. Everything here is a constant number of
statements per call (chunked at `_CHUNK` ids), whatever the number of orders. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain.outbox import OutboxState, sources
from gateway.store import bulk, outbox_queue, together
from gateway.store.audit_tables import AuditPending
from gateway.store.tables import (
    DeliveryAttempt,
    FhirMessage,
    LifecycleEvent,
    OutboxEntry,
    Prescription,
    PrescriptionItem,
)

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
    """Lease up to `limit` deliverable orders of a provider, bumping each fencing token, with a `leased` delivery
    attempt row of `attempt_kind` (a pull `release`, a `push`) per order: a constant number of statements.

    The orders `outbox_queue.take_deliverable` picks.
    """
    found = await outbox_queue.take_deliverable(
        session, select(col(OutboxEntry.id)), provider_ods, now, short_form_id, limit, skip_locked=skip_locked
    )
    ids = [i for i in found if i is not None]
    if not ids:
        return []
    connection = await session.connection()
    rows = (await connection.execute(_lease_statement(), {"ids": ids, "lease_until": lease_until})).all()
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


@lru_cache(maxsize=1)
def _lease_statement() -> Any:
    """Built once (expanding parameters take the ids): the fencing-token bump of `lease`."""
    lease_until = bindparam("lease_until", type_=OutboxEntry.__table__.c.lease_expires_at.type)  # type: ignore[attr-defined]
    return (
        update(OutboxEntry)
        .where(
            col(OutboxEntry.id).in_(bindparam("ids", expanding=True)),
            col(OutboxEntry.state).in_(sources(OutboxState.LEASED)),
        )
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


async def write_released(
    session: AsyncSession,
    events: Sequence[dict[str, Any]],
    audit_rows: Sequence[dict[str, Any]],
) -> None:
    """A release's timeline events and audit rows, in the caller's transaction: one statement
    on PostgreSQL (`gateway.store.together`)."""
    await together.write_together(
        await session.connection(),
        [
            together.Insert(LifecycleEvent.__table__, events),  # type: ignore[attr-defined]
            together.Insert(AuditPending.__table__, audit_rows),  # type: ignore[attr-defined]
        ],
    )


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """A leased order's sealed bundle (opened by the caller) and its prescription's short-form id."""

    body_enc: bytes
    sender_ods: str | None
    short_form_id: str


async def stored_orders(session: AsyncSession, message_ids: Sequence[str]) -> dict[str, StoredOrder]:
    """The sealed message and short-form id of each order, one query per `_CHUNK` ids."""
    found: dict[str, StoredOrder] = {}
    connection = await session.connection()
    for start in range(0, len(message_ids), _CHUNK):
        chunk = list(message_ids[start : start + _CHUNK])
        for message_id, body, sender, short_form in await connection.execute(_stored_statement(), {"ids": chunk}):
            found[message_id] = StoredOrder(body, sender, short_form)
    return found


@lru_cache(maxsize=1)
def _stored_statement() -> Any:
    return (
        core_select(
            col(FhirMessage.id), col(FhirMessage.body_enc), col(FhirMessage.sender_ods), col(Prescription.short_form_id)
        )
        .join(Prescription, col(Prescription.id) == col(FhirMessage.prescription_id))
        .where(col(FhirMessage.id).in_(bindparam("ids", expanding=True)))
    )


@dataclass(slots=True)
class AckTarget:
    """An order an acknowledgement names, with what applying it needs (never the message body): its prescription's
    status and line items ((id, status), in line order)."""

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
    items: list[tuple[str, str]] = field(default_factory=list)


async def ack_targets(session: AsyncSession, message_ids: Sequence[str], *, lock: bool) -> dict[str, AckTarget]:
    """The orders with these MessageHeader ids, their message's event, their prescription's status and line items,
    one query per `_CHUNK` ids.

    With `lock` (PostgreSQL) the outbox rows are locked (in id order), so a concurrent acknowledgement or claim of
    the same order waits for this transaction instead of applying twice; SQLite's BEGIN IMMEDIATE already
    serialises writers.
    """
    found: dict[str, AckTarget] = {}
    ids = sorted(set(message_ids))
    connection = await session.connection()
    for start in range(0, len(ids), _CHUNK):
        stmt = _ack_targets_statement(lock)
        rows = (await connection.execute(stmt, {"message_ids": ids[start : start + _CHUNK]})).all()
        for row in rows:
            target = found.get(row[1])
            if target is None:
                target = found[row[1]] = AckTarget(int(row[0]), *row[1:10])
            if row[10] is not None:
                target.items.append((row[10], row[11]))
    return found


@lru_cache(maxsize=2)
def _ack_targets_statement(lock: bool) -> Any:
    """Built once (an expanding parameter takes the ids): building this join costs more CPU than running it."""
    stmt = (
        core_select(
            col(OutboxEntry.id), col(OutboxEntry.message_id), col(OutboxEntry.prescription_id),
            col(OutboxEntry.provider_ods), col(OutboxEntry.state), col(OutboxEntry.queued_at),
            col(OutboxEntry.created_at), col(FhirMessage.event), col(Prescription.status),
            col(OutboxEntry.lease_token), col(PrescriptionItem.id), col(PrescriptionItem.status),
        )
        .join(FhirMessage, col(FhirMessage.id) == col(OutboxEntry.message_id))
        .join(Prescription, col(Prescription.id) == col(OutboxEntry.prescription_id))
        .outerjoin(PrescriptionItem, col(PrescriptionItem.prescription_id) == col(Prescription.id))
        .where(col(OutboxEntry.message_id).in_(bindparam("message_ids", expanding=True)))
        .order_by(col(OutboxEntry.id), col(PrescriptionItem.line_no))
    )
    return stmt.with_for_update(of=OutboxEntry) if lock else stmt


@dataclass(frozen=True, slots=True)
class AckWrites:
    """What a batch of acknowledgements changes: outbox rows ((id, {column: value})), prescriptions' and line
    items' statuses ((id, status)), timeline events and audit rows (`audit.pending_rows`)."""

    outbox: Sequence[tuple[int, dict[str, Any]]]
    statuses: Sequence[tuple[str, str]]
    item_statuses: Sequence[tuple[str, str]]
    events: Sequence[dict[str, Any]]
    audit_rows: Sequence[dict[str, Any]]


async def write_acknowledged(session: AsyncSession, writes: AckWrites, now: datetime) -> None:
    """Write a batch's changes in the caller's transaction: one statement on PostgreSQL
    (`gateway.store.together`), whatever the batch's size and mix."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for outbox_id, change in writes.outbox:
        by_columns.setdefault(tuple(sorted(change)), []).append({"id": outbox_id, **change})
    table = OutboxEntry.__table__  # type: ignore[attr-defined]
    parts: list[together.Write] = [together.Update(table, rows) for rows in by_columns.values()]
    parts += [
        together.Update(
            Prescription.__table__,  # type: ignore[attr-defined]
            [{"id": p, "status": s, "updated_at": now} for p, s in writes.statuses],
        ),
        together.Update(
            PrescriptionItem.__table__,  # type: ignore[attr-defined]
            [{"id": i, "status": s} for i, s in writes.item_statuses],
        ),
        together.Insert(LifecycleEvent.__table__, writes.events),  # type: ignore[attr-defined]
        together.Insert(AuditPending.__table__, writes.audit_rows),  # type: ignore[attr-defined]
    ]
    await together.write_together(await session.connection(), parts)


async def _rows(session: AsyncSession, stmt: Any) -> list[Any]:
    """Rows of a Core select of plain columns (sqlmodel's typed `select` stops at four columns)."""
    return list((await (await session.connection()).execute(stmt)).all())


async def message_event(session: AsyncSession, message_id: str) -> str | None:
    """A stored message's event code, without loading (or decrypting) its body."""
    return (await session.exec(select(col(FhirMessage.event)).where(col(FhirMessage.id) == message_id))).first()
