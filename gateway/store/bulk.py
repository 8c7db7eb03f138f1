"""Many rows into one table: `COPY … FROM STDIN` on PostgreSQL, an executemany elsewhere.

An INSERT per row is parsed, bound and executed row by row on both sides; a release or a batch of acknowledgements
writes hundreds of timeline, attempt and audit rows, and ingest a 5,000-line file's prescriptions, items, messages
and orders (`insert_rows`). On PostgreSQL the rows are streamed to `COPY` in the caller's transaction: psycopg's C
row writer encodes each value as it goes and sends the buffer every few hundred kilobytes, so nothing holds the whole
table in another form (one JSON document per table, the statement this replaces, peaked at 190 MB over the 39 MB of
sealed bodies it carried as hex for a 5,000-prescription export). The database casts each text field to its
column's type, as for an INSERT. SQLite gets the executemany, which costs it little (no round trips).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


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
    statement = _copy_statement(table, keys, connection.dialect)
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection  # psycopg's AsyncConnection, in SQLAlchemy's transaction
    async with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            await copy.write_row([_copy_value(row[key]) for key in keys])


def _copy_value(value: object) -> object:
    """An enum goes as its value (psycopg would write its name); a naive timestamp is refused, not guessed."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value


def json_value(value: object) -> str:
    """A value's JSON form, for a statement that sends rows as one JSON document (PostgreSQL casts it back)."""
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
def _copy_statement(table: Table, keys: tuple[str, ...], dialect: Dialect) -> str:
    """The COPY for these columns; every name comes from the table's metadata (`table.c[key]` refuses others)."""
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(table.c[key].name) for key in keys)
    return f"COPY {quote(table.name)} ({columns}) FROM STDIN"
