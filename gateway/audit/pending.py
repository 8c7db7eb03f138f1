"""Audit entries not yet in the chain (`audit_pending`), and the signed heads of the chain (`audit_head`).

A business transaction writes its entries to `audit_pending` with the rest of its work: an insert with a
database-assigned id, no lock, so audited transactions no longer wait for each other. The sequencer
(`gateway.audit.sequencer`) later moves committed entries into `audit_record`, numbering and hash-chaining them, and
now and then signs the chain's head into `audit_head`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer, Text
from sqlmodel import Field, SQLModel

from gateway.store.audit_tables import AuditColumns
from gateway.store.columns import utc_timestamp

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
