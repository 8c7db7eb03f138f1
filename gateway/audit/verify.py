"""Walking the audit chain in seq order and naming the first record that breaks it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from gateway.audit.errors import AuditStoreError
from gateway.audit.event import entity_ids
from gateway.audit.record import GENESIS_HASH, AuditEntity, AuditRecord, record_hash

if TYPE_CHECKING:
    from gateway.services.context import Gateway

# Rows per read: each batch is its own short transaction, so verifying never holds SQLite's write lock for long.
BATCH: Final = 1000

_ANCHOR: Final = re.compile(r"([1-9][0-9]*):([0-9a-f]{64})")


class Problem(StrEnum):
    SEQ_GAP = "seq-gap"
    BROKEN_LINK = "broken-link"
    HASH_MISMATCH = "hash-mismatch"
    ANCHOR_MISMATCH = "anchor-mismatch"
    TRUNCATED = "truncated"
    ENTITY_INDEX = "entity-index"


@dataclass(frozen=True, slots=True)
class Anchor:
    """A (seq, hash) pair kept outside the database: it exposes a rewritten or truncated tail."""

    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """From `SEQ:HASH`, as `hgw audit verify` prints it under "head"."""
        match = _ANCHOR.fullmatch(text.strip().lower())
        if match is None:
            raise ValueError("an anchor is SEQ:HASH, the hash 64 hex digits")
        return cls(int(match[1]), match[2])

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """`records` counts the records found intact, in order, before the first problem (all of them when ok)."""

    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: Problem | None = None
    reason: str | None = None
    head: Anchor | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem.value if self.problem else None,
            "reason": self.reason,
            "head": str(self.head) if self.head else None,
        }


@dataclass(slots=True)
class _Walk:
    """The state carried from one record to the next."""

    anchor: Anchor | None
    expected_seq: int = 1
    prev_hash: str = GENESIS_HASH
    anchor_seen: bool = False

    def check(self, record: AuditRecord, indexed: set[str]) -> VerifyResult | None:
        """`indexed`: the entity ids `audit_entity` holds for this record."""
        intact = self.expected_seq - 1
        if record.seq < self.expected_seq:
            return VerifyResult(
                False, intact, record.seq, Problem.SEQ_GAP, f"record {record.seq} where {self.expected_seq} belongs"
            )
        if record.seq > self.expected_seq:
            missing = self.expected_seq
            span = f"{missing}" if record.seq == missing + 1 else f"{missing} to {record.seq - 1}"
            return VerifyResult(
                False, intact, missing, Problem.SEQ_GAP, f"record {span} missing: the next record is {record.seq}"
            )
        if record.prev_hash != self.prev_hash:
            before = f"record {record.seq - 1}" if record.seq > 1 else "the genesis hash"
            return VerifyResult(
                False,
                intact,
                record.seq,
                Problem.BROKEN_LINK,
                f"prev_hash of record {record.seq} does not match {before}: that one was altered, or this link edited",
            )
        if record_hash(record.prev_hash, record) != record.hash:
            return VerifyResult(
                False, intact, record.seq, Problem.HASH_MISMATCH, f"record {record.seq} does not match its hash: edited"
            )
        if self.anchor is not None and record.seq == self.anchor.seq:
            self.anchor_seen = True
            if record.hash != self.anchor.hash:
                return VerifyResult(
                    False,
                    intact,
                    record.seq,
                    Problem.ANCHOR_MISMATCH,
                    f"record {record.seq} no longer has the anchored hash: the chain was rewritten at or before it",
                )
        named = entity_ids(record.event_json)
        if indexed != (set(named) if len(named) > 1 else set()):
            return VerifyResult(
                False,
                intact,
                record.seq,
                Problem.ENTITY_INDEX,
                f"the entity index of record {record.seq} does not match its AuditEvent: index rows edited or removed",
            )
        self.expected_seq += 1
        self.prev_hash = record.hash
        return None

    def finish(self, stray_index_seq: int | None) -> VerifyResult:
        """`stray_index_seq`: the first seq after the last record that `audit_entity` still names, if any."""
        last = self.expected_seq - 1
        head = Anchor(last, self.prev_hash) if last else None
        if stray_index_seq is not None:
            return VerifyResult(
                False,
                last,
                stray_index_seq,
                Problem.ENTITY_INDEX,
                f"the entity index names record {stray_index_seq}, which the chain does not hold: records removed",
                head,
            )
        if self.anchor is not None and not self.anchor_seen:
            return VerifyResult(
                False,
                last,
                last + 1,
                Problem.TRUNCATED,
                f"the chain ends at record {last} but record {self.anchor.seq} was anchored: records removed",
                head,
            )
        return VerifyResult(True, last, head=head)


async def verify(gw: Gateway, *, anchor: Anchor | None = None) -> VerifyResult:
    """Check seq continuity, every prev_hash link and every hash; the first failure is returned.

    Without `anchor`, removing or consistently re-hashing the newest records cannot be seen: nothing after
    them links to them. With the head of an earlier run as `anchor`, it can.
    """
    walk = _Walk(anchor)
    after: int | None = None
    try:
        while True:
            query = select(AuditRecord).order_by(col(AuditRecord.seq)).limit(BATCH)
            if after is not None:
                query = query.where(col(AuditRecord.seq) > after)
            async with gw.engine.connect() as conn:
                rows = (await conn.execute(query)).all()
                index = await _index(conn, after, rows[-1].seq if len(rows) == BATCH else None)
            for row in rows:
                record = AuditRecord(**row._mapping)
                problem = walk.check(record, index.pop(record.seq, set()))
                if problem is not None:
                    return problem
            if len(rows) < BATCH:
                return walk.finish(min(index) if index else None)
            after = rows[-1].seq
    except SQLAlchemyError as exc:
        raise AuditStoreError(f"could not read the audit chain: {exc.__class__.__name__}") from exc


async def _index(conn: AsyncConnection, after: int | None, through: int | None) -> dict[int, set[str]]:
    """The entity ids `audit_entity` holds per seq, for seq after `after` up to `through` (None: no end)."""
    query = select(AuditEntity.seq, AuditEntity.entity_id)
    if after is not None:
        query = query.where(col(AuditEntity.seq) > after)
    if through is not None:
        query = query.where(col(AuditEntity.seq) <= through)
    found: dict[int, set[str]] = {}
    for seq, entity_id in (await conn.execute(query)).all():
        found.setdefault(seq, set()).add(entity_id)
    return found
