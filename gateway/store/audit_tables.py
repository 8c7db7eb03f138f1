"""The `audit_record` table and the hash that chains each record to the one before it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import BigInteger, Column, Index
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
