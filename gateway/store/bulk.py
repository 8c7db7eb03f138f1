"""Many rows into one table with one statement: `INSERT … SELECT FROM json_populate_recordset(…)` on PostgreSQL.

An executemany sends one INSERT per row (pipelined by psycopg, but still parsed, bound and executed row by row on
both sides); a release or a batch of acknowledgements writes hundreds of timeline, attempt and audit rows. On
PostgreSQL the rows go as one JSON array (encoded by the C JSON encoder; per-column arrays were slower, psycopg
escapes text array elements in Python) and one statement inserts them, the database casting each field to its
column's type. SQLite gets the executemany, which costs it little (no round trips). Ingest writes a 5,000-line file's
prescriptions, items, messages and orders this way (`insert_rows`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

_CHUNK = 5000


async def insert_rows(session: AsyncSession, model: type[SQLModel], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` of a table model in the session's transaction (`insert_many`), with the Python-side scalar
    defaults of the columns the rows leave out filled in, as the ORM's INSERT would."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    defaults = scalar_defaults(table, frozenset(rows[0])) if rows else {}
    if defaults:
        rows = [{**defaults, **row} for row in rows]
    await insert_many(await session.connection(), table, rows)


def scalar_defaults(table: Table, keys: frozenset[str]) -> dict[str, Any]:
    return {
        c.key: c.default.arg  # type: ignore[attr-defined]
        for c in table.columns
        if c.key not in keys and c.default is not None and c.default.is_scalar
    }


async def insert_many(connection: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys, column names) into `table` in the caller's transaction."""
    if not rows:
        return
    keys = tuple(rows[0])
    if connection.dialect.name != "postgresql":
        await connection.execute(insert(table), list(rows))
        return
    statement = _json_insert(table, keys, connection.dialect)
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        await connection.execute(statement, {"rows": json.dumps(list(chunk), default=json_value)})


def json_value(value: object) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()  # bytea's hex input format
    raise TypeError(f"{type(value).__name__} cannot be bulk-inserted as JSON")


@lru_cache(maxsize=64)
def _json_insert(table: Table, keys: tuple[str, ...], dialect: Dialect) -> TextClause:
    """The statement for these columns; every name comes from the table's metadata (`table.c[key]` refuses others)."""
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(table.c[key].name) for key in keys)
    name = quote(table.name)
    rows = f"json_populate_recordset(CAST(NULL AS {name}), CAST(:rows AS json))"
    return text(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {rows}")  # noqa: S608 (metadata names only)
