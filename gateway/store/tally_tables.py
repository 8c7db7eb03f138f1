"""Running tallies for the console overview (issue 19 item 7): how many outbox messages each provider and trust has in
each state, and how many prescriptions each provider and trust has received, kept by the database itself.

Triggers (migration 0023) append a delta row, +n for what a statement added and −n for what it took away, in the
transaction that changes `outbox` or `prescription`: every writer is counted, none can forget, and since the deltas
are appended, not updated in place, concurrent writers never wait for each other on a counter row. The reader sums
them and folds them into one row per group from time to time (`gateway.store.tallies.compact`). Statement-level
triggers on PostgreSQL (one delta per group and statement, from the transition tables), row-level on SQLite.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer
from sqlmodel import Field, SQLModel


def _delta_id() -> Column:  # type: ignore[type-arg]
    """A 64-bit id (deltas are many); INTEGER on SQLite, where only that is the rowid and counts up by itself."""
    return Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)


class OutboxTally(SQLModel, table=True):
    __tablename__ = "outbox_tally"

    id: int | None = Field(default=None, sa_column=_delta_id())
    provider_ods: str = Field(max_length=12)
    trust_ods: str = Field(max_length=12)
    state: str = Field(max_length=16)
    n: int


class PrescriptionTally(SQLModel, table=True):
    __tablename__ = "prescription_tally"

    id: int | None = Field(default=None, sa_column=_delta_id())
    provider_ods: str | None = Field(default=None, max_length=12, description="None: held, routed to no provider")
    trust_ods: str = Field(max_length=12)
    n: int
