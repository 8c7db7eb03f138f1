"""Walking the audit chain in seq order and naming the first record that breaks it; checking the signed heads on the
way; reporting the entries the sequencer has not chained yet."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.exc import SQLAlchemyError

from gateway.audit.errors import AuditStoreError
from gateway.audit.event import entity_ids
from gateway.audit.heads import head_signature_problem
from gateway.audit.sequencer import backlog
from gateway.signing.keys import SigningKeyStore
from gateway.store import audit_log
from gateway.store.audit_tables import GENESIS_HASH, AuditHead, AuditRecord, record_hash

if TYPE_CHECKING:
    from gateway.context import Gateway

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
    HEAD_SIGNATURE = "head-signature"
    HEAD_MISMATCH = "head-mismatch"


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
class Backlog:
    """Entries appended but not chained yet, and how long the oldest has waited (`maximum`: the alert threshold)."""

    unsequenced: int
    oldest_seconds: float | None
    maximum_seconds: float

    @property
    def behind(self) -> bool:
        return bool(self.maximum_seconds) and (self.oldest_seconds or 0.0) >= self.maximum_seconds


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """`records` counts the records found intact, in order, before the first problem (all of them when ok);
    `signed_heads` the signed heads found valid among them."""

    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: Problem | None = None
    reason: str | None = None
    head: Anchor | None = None
    signed_heads: int = 0
    backlog: Backlog | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem.value if self.problem else None,
            "reason": self.reason,
            "head": str(self.head) if self.head else None,
            "signed_heads": self.signed_heads,
            "unsequenced": self.backlog.unsequenced if self.backlog else None,
            "oldest_unsequenced_seconds": self.backlog.oldest_seconds if self.backlog else None,
            "max_unsequenced_seconds": self.backlog.maximum_seconds if self.backlog else None,
            "sequencing_behind": self.backlog.behind if self.backlog else None,
        }


@dataclass(slots=True)
class _Walk:
    """The state carried from one record to the next."""

    anchor: Anchor | None
    keys: SigningKeyStore | None = None
    expected_seq: int = 1
    prev_hash: str = GENESIS_HASH
    anchor_seen: bool = False
    signed_heads: int = 0

    def check(self, record: AuditRecord, indexed: set[str], head: AuditHead | None = None) -> VerifyResult | None:
        """`indexed`: the entity ids `audit_entity` holds for this record; `head`: the signed head naming it."""
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
        if head is not None:
            problem = self._head(record, head, intact)
            if problem is not None:
                return problem
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

    def _head(self, record: AuditRecord, head: AuditHead, intact: int) -> VerifyResult | None:
        why = head_signature_problem(self.keys, head)
        if why is not None:
            return VerifyResult(
                False, intact, record.seq, Problem.HEAD_SIGNATURE, f"the signed head at record {record.seq}: {why}"
            )
        if head.hash != record.hash:
            return VerifyResult(
                False,
                intact,
                record.seq,
                Problem.HEAD_MISMATCH,
                f"record {record.seq} no longer has the hash its signed head states: the chain was rewritten at or "
                "before it",
            )
        self.signed_heads += 1
        return None

    def finish(self, stray_index_seq: int | None, stray_head_seq: int | None = None) -> VerifyResult:
        """`stray_index_seq`: the first seq after the last record that `audit_entity` still names, if any;
        `stray_head_seq`: the first signed head past the last record, if any."""
        last = self.expected_seq - 1
        head = Anchor(last, self.prev_hash) if last else None
        if stray_head_seq is not None:
            return VerifyResult(
                False,
                last,
                last + 1,
                Problem.TRUNCATED,
                f"the chain ends at record {last} but a head was signed at record {stray_head_seq}: records removed",
                head,
                self.signed_heads,
            )
        if stray_index_seq is not None:
            return VerifyResult(
                False,
                last,
                stray_index_seq,
                Problem.ENTITY_INDEX,
                f"the entity index names record {stray_index_seq}, which the chain does not hold: records removed",
                head,
                self.signed_heads,
            )
        if self.anchor is not None and not self.anchor_seen:
            return VerifyResult(
                False,
                last,
                last + 1,
                Problem.TRUNCATED,
                f"the chain ends at record {last} but record {self.anchor.seq} was anchored: records removed",
                head,
                self.signed_heads,
            )
        return VerifyResult(True, last, head=head, signed_heads=self.signed_heads)


async def verify(gw: Gateway, *, anchor: Anchor | None = None) -> VerifyResult:
    """Check seq continuity, every prev_hash link, every hash and every signed head; the first failure is returned,
    with the backlog of entries not chained yet.

    Without `anchor` or a signed head after them, removing or consistently re-hashing the newest records cannot be
    seen: nothing after them links to them. With the head of an earlier run as `anchor`, or a head the sequencer
    signed since, it can.
    """
    walk = _Walk(anchor, gw.signing)
    after: int | None = None
    try:
        waiting, oldest = await backlog(gw)
        age = round((gw.clock() - oldest).total_seconds(), 1) if oldest is not None else None
        pending = Backlog(waiting, age, gw.settings.audit_max_unsequenced_seconds)
        while True:
            async with gw.engine.connect() as conn:
                rows = await audit_log.records_after(conn, after, BATCH)
                through = rows[-1].seq if len(rows) == BATCH else None
                index = await audit_log.entities_between(conn, after, through)
                heads = await audit_log.heads_between(conn, after, through)
            for record in rows:
                problem = walk.check(record, index.pop(record.seq, set()), heads.pop(record.seq, None))
                if problem is not None:
                    return replace(problem, backlog=pending)
            if len(rows) < BATCH:
                end = walk.finish(min(index) if index else None, min(heads) if heads else None)
                return replace(end, backlog=pending)
            after = rows[-1].seq
    except SQLAlchemyError as exc:
        raise AuditStoreError(f"could not read the audit chain: {exc.__class__.__name__}") from exc

