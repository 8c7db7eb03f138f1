"""Appending to the audit trail inside the caller's transaction, without waiting for other appenders.

An entry goes to `audit_pending` with the caller's work (it commits or rolls back with it); the sequencer
(`gateway.audit.sequencer`) chains committed entries later, one sequencer at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.audit.actor import Actor, actor_columns
from gateway.audit.errors import AuditRefusedError, AuditStoreError
from gateway.audit.event import Detail, action_spec, check_ids_only
from gateway.store import audit_log
from gateway.store.audit_tables import Outcome


async def append(
    session: AsyncSession,
    gw_clock: Callable[[], datetime],
    principal_or_system: Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    outcome: Outcome | str,
    detail: Detail | None = None,
) -> None:
    """Add an entry for the chain in `session`'s transaction, so it commits or rolls back with the action.

    No lock is taken: concurrent audited transactions do not wait for each other. The entry is in the chain
    (numbered, hashed, searchable) once the sequencer has run after the commit.
    Raises AuditRefusedError for an unknown action or anything that is not an id or a code, AuditStoreError
    when the database fails (the caller's transaction is then unusable and must roll back).
    """
    await append_many(session, gw_clock, [Entry(principal_or_system, action, entity_type, entity_id, outcome, detail)])


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


async def append_many(session: AsyncSession, gw_clock: Callable[[], datetime], entries: Sequence[Entry]) -> None:
    """Append `entries`, in order, with one INSERT statement; the sequencer chains them in this order.

    Every entry is checked before anything is written: one refused entry refuses the whole batch.
    """
    rows = pending_rows(gw_clock, entries)
    if not rows:
        return
    try:
        await audit_log.append_pending(session, rows)
    except SQLAlchemyError as exc:
        action = rows[0]["action"]
        raise AuditStoreError(f"could not append audit record for {action}: {exc.__class__.__name__}") from exc


def pending_rows(gw_clock: Callable[[], datetime], entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """The `audit_pending` rows of `entries`, in order, for a caller that writes them with its own statement
    (`gateway.store.together`): `append_many` without the write. Every entry is checked first (AuditRefusedError
    for the first refused one: then nothing may be written)."""
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
    at = gw_clock()
    rows: list[dict[str, Any]] = [
        {
            "at": at,
            "actor_client_id": actor.client_id,
            "actor_role": actor.role,
            "actor_ods": actor.ods,
            "action": entry.action,
            "entity_type": entry.entity_type,
            "entity_ids": json.dumps(entry.entity_ids),
            "outcome": outcome.value,
            "detail_json": json.dumps(dict(entry.detail), sort_keys=True) if entry.detail else None,
        }
        for entry, outcome, actor in checked
    ]
    return rows
