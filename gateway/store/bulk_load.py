"""SQL for loading a generated store straight into PostgreSQL (`hgw bench --scale`) and for reading its size.

The bench generates rows and COPYs them itself (`gateway.bench.national_store`); what it asks of the database
beyond COPY is here: the timeline's ordering trigger switched off while events it numbered itself are loaded,
the sequence moved past them, statistics gathered, and the connections a database has open. Synchronous psycopg:
the bench loads from a plain connection, outside the gateway's engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import psycopg

# Migration 0021's trigger: it locks the event's prescription and draws its id, one event at a time.
EVENT_ORDER_TRIGGER: Final = "lifecycle_event_in_prescription_order"


@contextmanager
def events_numbered_by_loader(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """While the block COPYs timeline events whose ids it gave itself (in time order within each prescription),
    the ordering trigger is off; afterwards the id sequence is moved past the largest id and the trigger is back
    on (also when the block fails)."""
    conn.execute(f"ALTER TABLE lifecycle_event DISABLE TRIGGER {EVENT_ORDER_TRIGGER}")
    conn.commit()
    try:
        yield
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('lifecycle_event', 'id'), (SELECT max(id) FROM lifecycle_event))"
        )
    finally:
        conn.execute(f"ALTER TABLE lifecycle_event ENABLE TRIGGER {EVENT_ORDER_TRIGGER}")
        conn.commit()


def analyze(dsn: str) -> None:
    """VACUUM ANALYZE the database at `dsn` (a libpq DSN): the planner's statistics for what was loaded."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def open_connections(dsn: str, database: str) -> int:
    """Connections PostgreSQL has open to `database` now (every process's, and a pooler's), this one left out."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,)
        ).fetchone()
    return int(row[0]) if row else 0
