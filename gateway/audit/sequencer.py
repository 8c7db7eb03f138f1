"""The sequencer: committed `audit_pending` entries into the hash chain, in batches, one sequencer at a time.

As Certificate Transparency logs and Trillian do it: appenders only queue entries, and a single sequencer gives
them their place in the log. It runs in every server's background loop (`gateway.audit.loop`) and as
`hgw audit sequence`; on PostgreSQL a transaction-level advisory lock (tried, never waited for) lets one run at a
time, on SQLite the `BEGIN IMMEDIATE` every transaction starts with does. Each batch is one transaction: the
records and their entity index are inserted and the entries deleted together, so an entry is chained exactly
once. Entries are chained in the order of their ids, which the database assigned as they were appended.

Now and then (`HGW_AUDIT_HEAD_SECONDS`) the sequencer also signs the head of the chain (`audit_head`) with the
gateway's signing key: `hgw audit verify` then catches a rewritten or truncated tail without an external anchor.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.audit.actor import ActorColumns
from gateway.audit.errors import AuditStoreError
from gateway.audit.event import audit_event_json
from gateway.audit.heads import sign_head
from gateway.store import audit_log
from gateway.store.audit_tables import AuditPending, Outcome, row_hash

if TYPE_CHECKING:
    from gateway.context import Gateway

# Entries per transaction.
BATCH: Final = 2000


@dataclass(frozen=True, slots=True)
class SequenceResult:
    """`busy`: another sequencer had the turn, so this run did nothing (it will have chained the entries)."""

    sequenced: int
    last_seq: int
    signed_head: int | None = None
    busy: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "sequenced": self.sequenced,
            "last_seq": self.last_seq,
            "signed_head": self.signed_head,
            "busy": self.busy,
        }


async def sequence(
    gw: Gateway, *, sign: bool | None = None, wait: bool = False, batch: int = BATCH
) -> SequenceResult:
    """Chain every committed pending entry; sign the head when `sign` (True: if the chain moved since the last
    head; None: also only once the last head is `audit_head_seconds` old; False: never).

    `wait`: when another sequencer has the turn, wait for it and then chain what is left (a reader that must see
    everything committed so far); otherwise return at once, `busy`. AuditStoreError when the database fails
    (nothing of the failed batch is kept)."""
    total = 0
    try:
        while True:
            async with gw.sessions() as session, session.begin():
                if not await audit_log.take_sequencer_turn(session, wait=wait):
                    return SequenceResult(total, 0, busy=True)
                seq, prev_hash = await audit_log.chain_end(session)
                pending = await audit_log.oldest_pending(session, batch)
                if pending:
                    records, index = await asyncio.to_thread(chain_rows, seq, prev_hash, pending)
                    await audit_log.chain_batch(session, records, index, [p.id for p in pending])
                    seq, prev_hash = records[-1]["seq"], records[-1]["hash"]
                    total += len(pending)
                if len(pending) < batch:
                    signed = await _maybe_sign(session, gw, seq, prev_hash, sign)
                    return SequenceResult(total, seq, signed)
    except SQLAlchemyError as exc:
        raise AuditStoreError(f"could not sequence the audit trail: {exc.__class__.__name__}") from exc


def chain_rows(
    seq: int, prev_hash: str, pending: Sequence[AuditPending]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The `audit_record` rows of `pending`, numbered from `seq` + 1 and each hashed over its predecessor, and the
    `audit_entity` rows of those naming more than one entity. Pure CPU: run it off the event loop."""
    records: list[dict[str, Any]] = []
    index: list[dict[str, Any]] = []
    for entry in pending:
        seq += 1
        entity_ids: list[str] = json.loads(entry.entity_ids)
        row: dict[str, Any] = {
            "seq": seq,
            "at": entry.at,
            "actor_client_id": entry.actor_client_id,
            "actor_role": entry.actor_role,
            "actor_ods": entry.actor_ods,
            "action": entry.action,
            "entity_type": entry.entity_type,
            "entity_id": entity_ids[0],
            "outcome": entry.outcome,
            "event_json": audit_event_json(
                seq=seq,
                at=entry.at,
                actor=ActorColumns(entry.actor_client_id, entry.actor_role, entry.actor_ods),
                action=entry.action,
                entity_type=entry.entity_type,
                entity_ids=entity_ids,
                outcome=Outcome(entry.outcome),
                detail=json.loads(entry.detail_json) if entry.detail_json else None,
            ),
            "prev_hash": prev_hash,
        }
        row["hash"] = prev_hash = row_hash(prev_hash, row)
        records.append(row)
        if len(entity_ids) > 1:
            index.extend({"entity_id": e, "seq": seq, "entity_type": entry.entity_type} for e in entity_ids)
    return records, index


async def _maybe_sign(session: AsyncSession, gw: Gateway, seq: int, hash_: str, sign: bool | None) -> int | None:
    if sign is False or seq == 0 or gw.signing is None:
        return None
    newest = await audit_log.newest_head(session)
    now = gw.clock()
    if newest is not None and (newest.seq >= seq or (sign is None and now - newest.at < _head_interval(gw))):
        return None
    audit_log.add_head(session, sign_head(gw.signing, seq, hash_, now))
    return seq


def _head_interval(gw: Gateway) -> timedelta:
    return timedelta(seconds=gw.settings.audit_head_seconds)


async def backlog(gw: Gateway) -> tuple[int, datetime | None]:
    """How many entries wait to be chained, and when the oldest was appended."""
    try:
        async with gw.sessions() as session:
            return await audit_log.pending_backlog(session)
    except SQLAlchemyError as exc:
        raise AuditStoreError(f"could not read the audit backlog: {exc.__class__.__name__}") from exc
