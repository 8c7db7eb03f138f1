"""The audit tables: `audit_record` and the hash that chains each record to the one before it, `audit_entity`
(the entities of batch records), `audit_pending` (entries not yet in the chain) and `audit_head` (signed heads).

A business transaction writes its entries to `audit_pending` with the rest of its work: an insert with a
database-assigned id, no lock, so audited transactions do not wait for each other. The sequencer
(`gateway.audit.sequencer`) later moves committed entries into `audit_record`, numbering and hash-chaining them, and
now and then signs the chain's head into `audit_head`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import BigInteger, Column, Index, Integer, Text
from sqlmodel import Field, SQLModel

from gateway.store.columns import utc_timestamp

# The first record links to this, so every record, the first included, has a predecessor hash.
GENESIS_HASH: Final = "0" * 64

# The fields the hash covers, in the record's own terms (prev_hash is prefixed, the hash itself is the output).
HASHED_FIELDS: Final = (
    "seq",
    "at",
    "actor_client_id",
    "actor_role",
    "actor_ods",
    "action",
    "entity_type",
    "entity_id",
    "outcome",
    "event_json",
)


class Outcome(StrEnum):
    """How the audited action ended; `fhir_code` is AuditEvent.outcome."""

    SUCCESS = "success"
    REFUSED = "refused"  # the caller's fault: forbidden, not found, invalid input
    FAILED = "failed"  # ours: the gateway or a downstream system failed

    @property
    def fhir_code(self) -> str:
        return {"success": "0", "refused": "4", "failed": "8"}[self.value]


class AuditColumns(SQLModel):
    """Who did what to which kind of entity: the columns a record shares with its pending entry."""

    actor_client_id: str = Field(max_length=64)
    actor_role: str = Field(max_length=16)
    actor_ods: str | None = Field(default=None, max_length=12)
    action: str = Field(max_length=48)
    entity_type: str = Field(max_length=32)


class AuditRecord(AuditColumns, table=True):
    """One audited action. Rows are only ever inserted: triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_record"
    __table_args__ = (
        Index("ix_audit_record_entity", "entity_type", "entity_id"),
        Index("ix_audit_record_actor_ods", "actor_ods"),
        Index("ix_audit_record_at", "at"),
    )

    # Assigned by `append` as last + 1 under a lock, never by a sequence: sequences leave gaps on rollback.
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_column=utc_timestamp())
    entity_id: str = Field(max_length=64)
    outcome: str = Field(max_length=12)
    event_json: str = Field(description="the FHIR R4 AuditEvent, ids and codes only")
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditEntity(SQLModel, table=True):
    """Every entity a record names when it names more than one: the index that finds a record by any of them.

    A record of a batch action (a release of 200 orders, a batch of acknowledgements) names all its entities
    in its AuditEvent, which the hash covers; these rows only make them searchable. `verify` checks them
    against the AuditEvents, and triggers refuse UPDATE and DELETE as for `audit_record`.
    """

    __tablename__ = "audit_entity"
    __table_args__ = (Index("ix_audit_entity_seq", "seq"),)

    entity_id: str = Field(max_length=64, primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    entity_type: str = Field(max_length=32)


def instant(at: datetime) -> str:
    """The one spelling of a timestamp that is hashed and put in AuditEvent.recorded."""
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_fields(record: AuditRecord) -> bytes:
    """The hashed fields as canonical JSON: sorted keys, no spaces, UTF-8.

    Every value is a string, an integer or null, so this is also the RFC 8785 (JCS) form.
    """
    return canonical_row({name: getattr(record, name) for name in HASHED_FIELDS})


def canonical_row(row: Mapping[str, Any]) -> bytes:
    """`canonical_fields` of a record given as a mapping of its columns (a batch append builds rows, not models)."""
    fields: dict[str, Any] = {name: row[name] for name in HASHED_FIELDS}
    fields["at"] = instant(row["at"])
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def record_hash(prev_hash: str, record: AuditRecord) -> str:
    """SHA-256 over the predecessor's hash and this record's canonical fields, as lowercase hex."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_fields(record)).hexdigest()


def row_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """`record_hash` of a record given as a mapping of its columns."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_row(row)).hexdigest()


# SQLite only numbers an INTEGER PRIMARY KEY from its rowid; PostgreSQL gets a BIGINT identity.
_ID = BigInteger().with_variant(Integer(), "sqlite")


class AuditPending(AuditColumns, table=True):
    """One audited action waiting for the sequencer: the record's fields, less seq, AuditEvent and hashes.

    `entity_ids` is the JSON array of every entity the action named (one for most actions); `detail_json` the
    detail object or null. The entry was checked (ids and codes only) before it was written.
    """

    __tablename__ = "audit_pending"
    __table_args__ = (Index("ix_audit_pending_at", "at"),)

    id: int | None = Field(default=None, sa_column=Column(_ID, primary_key=True, autoincrement=True))
    at: datetime = Field(sa_column=utc_timestamp())
    entity_ids: str = Field(sa_column=Column(Text, nullable=False))
    outcome: str = Field(max_length=12)
    detail_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AuditHead(SQLModel, table=True):
    """A signed statement "the chain had record `seq` with hash `hash` at `at`": a tree head, as Certificate
    Transparency logs sign theirs. `jws` is the detached ES256 JWS (one of the gateway's signing keys, named by its
    kid) over `head_payload(seq, hash, at)`. Rows are only inserted: triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_head"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: str = Field(max_length=64)
    at: datetime = Field(sa_column=utc_timestamp())
    jws: str = Field(sa_column=Column(Text, nullable=False))
