"""Appending to the audit chain inside the caller's transaction, one appender at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.audit.actor import Actor, actor_columns
from gateway.audit.errors import AuditRefusedError, AuditStoreError
from gateway.audit.event import Detail, action_spec, audit_event_json, check_ids_only
from gateway.audit.record import GENESIS_HASH, AuditEntity, AuditRecord, Outcome, row_hash
from gateway.store import bulk

# pg_advisory_xact_lock key: the bytes of "hgwaudit" read as a (positive) 64-bit integer.
AUDIT_LOCK_KEY: Final = int.from_bytes(b"hgwaudit", "big")


async def append(
    session: AsyncSession,
    gw_clock: Callable[[], datetime],
    principal_or_system: Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    outcome: Outcome | str,
    detail: Detail | None = None,
) -> AuditRecord:
    """Add the next record to the chain in `session`'s transaction, so it commits or rolls back with the action.

    Appenders are serialised until their transaction ends: on PostgreSQL by a transaction-level advisory
    lock taken before the last record is read, on SQLite by the BEGIN IMMEDIATE every transaction starts
    with. Call it late in the transaction: later audited transactions wait for this one to finish.
    Raises AuditRefusedError for an unknown action or anything that is not an id or a code, AuditStoreError
    when the database fails (the caller's transaction is then unusable and must roll back).
    """
    entry = Entry(principal_or_system, action, entity_type, entity_id, outcome, detail)
    return AuditRecord(**(await append_many(session, gw_clock, [entry]))[0])


# The most entities one record names; a larger batch action is recorded as consecutive records.
MAX_ENTITIES: Final = 250


@dataclass(frozen=True, slots=True)
class Entry:
    """One record for `append_many`: the arguments `append` takes after the clock.

    `also` names further entities of the same type that the same action did the same to (a batch); the
    record's `entity_id` is the first, its AuditEvent names all of them and `audit_entity` indexes them.
    """

    actor: Actor
    action: str
    entity_type: str
    entity_id: str
    outcome: Outcome | str
    detail: Detail | None = None
    also: tuple[str, ...] = ()

    @classmethod
    def batch(
        cls,
        actor: Actor,
        action: str,
        entity_type: str,
        entity_ids: Sequence[str],
        outcome: Outcome | str,
        detail: Detail | None = None,
    ) -> list[Entry]:
        """The records of one action over many entities: one per `MAX_ENTITIES` ids, none for no ids."""
        return [
            cls(actor, action, entity_type, ids[0], outcome, detail, tuple(ids[1:]))
            for ids in (entity_ids[i : i + MAX_ENTITIES] for i in range(0, len(entity_ids), MAX_ENTITIES))
        ]

    @property
    def entity_ids(self) -> tuple[str, ...]:
        return (self.entity_id, *self.also)


async def append_many(
    session: AsyncSession, gw_clock: Callable[[], datetime], entries: Sequence[Entry]
) -> list[dict[str, Any]]:
    """Append `entries` to the chain in order, under one turn at the lock and with one INSERT statement.

    Each record is still hashed on its own over its predecessor's hash, exactly as `append` would chain them one
    by one, so `verify` cannot tell the difference; a batch of N audited actions just waits for the lock once.
    Every entry is checked before anything is written: one refused entry refuses the whole batch.
    Returns the rows written (the `AuditRecord` columns), in chain order.
    """
    checked = []
    for entry in entries:
        if entry.outcome not in set(Outcome):
            raise AuditRefusedError(f"outcome is one of {', '.join(Outcome)}", field="outcome")
        action_spec(entry.action)
        if len(entry.also) >= MAX_ENTITIES:
            raise AuditRefusedError(f"one record names at most {MAX_ENTITIES} entities", field="also")
        check_ids_only(entry.entity_type, entry.entity_id, entry.detail)
        for i, entity_id in enumerate(entry.also):
            try:
                check_ids_only(entry.entity_type, entity_id, None)
            except AuditRefusedError as exc:
                raise AuditRefusedError(str(exc).replace("entity_id", f"also[{i}]"), field=f"also[{i}]") from None
        if len(set(entry.entity_ids)) != len(entry.entity_ids):
            raise AuditRefusedError("a record names each entity once", field="also")
        checked.append((entry, Outcome(entry.outcome), actor_columns(entry.actor)))
    if not checked:
        return []
    rows: list[dict[str, Any]] = []
    index: list[dict[str, Any]] = []
    try:
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            await session.exec(select(func.pg_advisory_xact_lock(AUDIT_LOCK_KEY)))
        last = (
            await session.exec(select(AuditRecord.seq, AuditRecord.hash).order_by(col(AuditRecord.seq).desc()).limit(1))
        ).first()
        seq, prev_hash = (0, GENESIS_HASH) if last is None else (last[0], last[1])
        at = gw_clock()
        for entry, outcome, actor in checked:
            seq += 1
            row: dict[str, Any] = {
                "seq": seq,
                "at": at,
                "actor_client_id": actor.client_id,
                "actor_role": actor.role,
                "actor_ods": actor.ods,
                "action": entry.action,
                "entity_type": entry.entity_type,
                "entity_id": entry.entity_id,
                "outcome": outcome.value,
                "event_json": audit_event_json(
                    seq=seq,
                    at=at,
                    actor=actor,
                    action=entry.action,
                    entity_type=entry.entity_type,
                    entity_ids=entry.entity_ids,
                    outcome=outcome,
                    detail=entry.detail,
                ),
                "prev_hash": prev_hash,
            }
            row["hash"] = prev_hash = row_hash(prev_hash, row)
            rows.append(row)
            if entry.also:
                index.extend({"entity_id": e, "seq": seq, "entity_type": entry.entity_type} for e in entry.entity_ids)
        await bulk.insert_many(connection, AuditRecord.__table__, rows)  # type: ignore[attr-defined]
        await bulk.insert_many(connection, AuditEntity.__table__, index)  # type: ignore[attr-defined]
    except SQLAlchemyError as exc:
        action = checked[0][0].action
        raise AuditStoreError(f"could not append audit record for {action}: {exc.__class__.__name__}") from exc
    return rows
