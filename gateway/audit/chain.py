"""Appending to the audit chain inside the caller's transaction, one appender at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from sqlalchemy import func, insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.audit.actor import Actor, actor_columns
from gateway.audit.errors import AuditRefusedError, AuditStoreError
from gateway.audit.event import Detail, action_spec, audit_event_json, check_ids_only
from gateway.audit.record import GENESIS_HASH, AuditRecord, Outcome, record_hash

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
    if outcome not in set(Outcome):
        raise AuditRefusedError(f"outcome is one of {', '.join(Outcome)}", field="outcome")
    outcome = Outcome(outcome)
    action_spec(action)
    check_ids_only(entity_type, entity_id, detail)
    actor = actor_columns(principal_or_system)
    try:
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            await session.exec(select(func.pg_advisory_xact_lock(AUDIT_LOCK_KEY)))
        last = (
            await session.exec(select(AuditRecord.seq, AuditRecord.hash).order_by(col(AuditRecord.seq).desc()).limit(1))
        ).first()
        seq, prev_hash = (1, GENESIS_HASH) if last is None else (last[0] + 1, last[1])
        at = gw_clock()
        record = AuditRecord(
            seq=seq,
            at=at,
            actor_client_id=actor.client_id,
            actor_role=actor.role,
            actor_ods=actor.ods,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            outcome=outcome.value,
            event_json=audit_event_json(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                outcome=outcome,
                detail=detail,
            ),
            prev_hash=prev_hash,
            hash="",
        )
        record.hash = record_hash(prev_hash, record)
        await session.exec(insert(AuditRecord).values(**record.model_dump()))
    except SQLAlchemyError as exc:
        raise AuditStoreError(f"could not append audit record for {action}: {exc.__class__.__name__}") from exc
    return record
