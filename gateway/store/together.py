"""Several inserts and updates of different tables as one statement on PostgreSQL: one round trip, not one each.

A provider acknowledging one order per `$process-message` (as EPS providers do) changes five tables: its outbox
row, the prescription, its line items, the timeline and the audit trail. Sent one statement at a time, the round
trips and the statement building cost more than the work itself. `write_together` sends them as one statement of
data-modifying common table expressions (`WITH a AS (UPDATE …), b AS (INSERT …) SELECT …`), each fed its rows as
one JSON array that PostgreSQL reads with the table's own row type (`json_populate_recordset`), so every value is
cast to its column's type by the database. The parts of one such statement see the same snapshot and must not
touch the same row twice: give it writes of different rows (it is meant for different tables).

SQLite (no data-modifying CTEs, and no round trips to save) gets one statement per part, executemany for the rows.
Inserted rows get the Python-side defaults of the columns they leave out, as `bulk.insert_rows` gives them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, insert, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from gateway.store.bulk import json_value, scalar_defaults


@dataclass(frozen=True, slots=True)
class Insert:
    """Rows for `table`, each a dict of the same column names."""

    table: Table
    rows: Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Update:
    """Rows of `table` to change: each names the row by `key` (a column, usually the primary key) and gives the
    new values of the same other columns."""

    table: Table
    rows: Sequence[Mapping[str, Any]]
    key: str = "id"


Write = Insert | Update


async def write_together(connection: AsyncConnection, writes: Sequence[Write]) -> None:
    """Apply `writes` in the caller's transaction: one statement on PostgreSQL, one per write elsewhere. Writes
    without rows are left out."""
    writes = [_with_defaults(w) for w in writes if w.rows]
    if not writes:
        return
    for write in writes:
        for column in write.rows[0]:
            write.table.c[column]  # noqa: B018 - KeyError for a name that is not one of the table's columns
    if connection.dialect.name != "postgresql":
        for write in writes:
            await _one_by_one(connection, write)
        return
    statement = _statement(tuple(_shape(w) for w in writes), connection.dialect)
    values = {f"rows_{n}": json.dumps(list(w.rows), default=json_value) for n, w in enumerate(writes)}
    await connection.execute(statement, values)


def _with_defaults(write: Write) -> Write:
    """An insert's rows with the Python-side scalar defaults of the columns they leave out, as the ORM's INSERT
    would fill them (`bulk.insert_rows` does the same)."""
    if isinstance(write, Update):
        return write
    defaults = scalar_defaults(write.table, frozenset(write.rows[0]))
    return Insert(write.table, [{**defaults, **row} for row in write.rows]) if defaults else write


def _shape(write: Write) -> tuple[str, Table, str, tuple[str, ...]]:
    kind = "insert" if isinstance(write, Insert) else "update"
    key = write.key if isinstance(write, Update) else ""
    return kind, write.table, key, tuple(write.rows[0])


@lru_cache(maxsize=64)
def _statement(shapes: tuple[tuple[str, Table, str, tuple[str, ...]], ...], dialect: Dialect) -> TextClause:
    """The one statement for writes of these shapes. Every name comes from the tables' metadata (`table.c[key]`
    refuses any other), and the values are bound parameters."""
    quote = dialect.identifier_preparer.quote
    parts = []
    for n, (kind, table, key, columns) in enumerate(shapes):
        name = quote(table.name)
        source = f"json_populate_recordset(CAST(NULL AS {name}), CAST(:rows_{n} AS json))"
        if kind == "insert":
            names = ", ".join(quote(table.c[c].name) for c in columns)
            body = f"INSERT INTO {name} ({names}) SELECT {names} FROM {source} RETURNING 1"  # noqa: S608
        else:
            key_name = quote(table.c[key].name)
            sets = ", ".join(f"{quote(table.c[c].name)} = v.{quote(table.c[c].name)}" for c in columns if c != key)
            match = f"t.{key_name} = v.{key_name}"
            body = f"UPDATE {name} AS t SET {sets} FROM {source} AS v WHERE {match} RETURNING 1"  # noqa: S608
        parts.append(f"w{n} AS ({body})")
    counts = ", ".join(f"(SELECT count(*) FROM w{n})" for n in range(len(shapes)))  # noqa: S608
    return text(f"WITH {', '.join(parts)} SELECT {counts}")  # noqa: S608 (metadata names only)


async def _one_by_one(connection: AsyncConnection, write: Write) -> None:
    rows = [dict(row) for row in write.rows]
    if isinstance(write, Insert):
        await connection.execute(insert(write.table), rows)
        return
    key = write.key
    columns = [c for c in rows[0] if c != key]
    statement = (
        update(write.table)
        .where(write.table.c[key] == bindparam(f"key_{key}"))
        .values({c: bindparam(f"new_{c}") for c in columns})
    )
    await connection.execute(
        statement, [{f"key_{key}": row[key], **{f"new_{c}": row[c] for c in columns}} for row in rows]
    )
