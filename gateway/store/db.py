"""The async engine factory: SQLite (WAL, synchronous=FULL, BEGIN IMMEDIATE) or PostgreSQL, directly or through
PgBouncer in transaction mode (docs/scale-out.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.private_files import private_file
from gateway.settings import Settings

# psycopg's own default: a statement run this often on one connection becomes a server-side prepared statement.
PREPARE_THRESHOLD = 5


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, max_overflow: int = 10, pgbouncer: bool = False
) -> AsyncEngine:
    """An engine for `url`; SQLite gets WAL, full fsync and write-locking transactions, on a file only we read.

    On PostgreSQL the process keeps `pool_size` connections and opens up to `max_overflow` more at peak. With
    `pgbouncer` (the URL is PgBouncer in transaction mode) no statement is prepared on the server: each transaction
    may run on another server connection, where a statement prepared by an earlier one does not exist, or where
    another client's statement of the same name does."""
    if is_sqlite(url):
        secure_sqlite_file(url)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        connect_args={"prepare_threshold": None if pgbouncer else PREPARE_THRESHOLD},
    )


def engine_for(settings: Settings) -> AsyncEngine:
    """The engine of the configured store, its pool and PgBouncer mode as the settings say."""
    return create_engine(
        settings.effective_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pgbouncer=settings.db_pgbouncer,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN IMMEDIATE below is the only BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # One writer at a time, decided when the transaction starts rather than at its first write:
        # a claim (read then update) can never be interleaved with another claim. A connection asked for
        # AUTOCOMMIT (one-statement reads such as the bearer token's) opens no transaction and takes no lock.
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def secure_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 (in a 0700 folder when the folder is new) before SQLite opens it: SQLite makes
    the WAL and shared-memory files with the database file's mode, so those are 0600 too."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        private_file(Path(database))


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def sync_url(url: str) -> str:
    """The same database through a synchronous driver, for Alembic."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)
