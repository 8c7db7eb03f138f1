"""Scratch PostgreSQL databases for the benchmarks and the fault campaign, and whether a server accepts connections.

These talk to the server with psycopg directly (database DDL cannot run inside the gateway's transactions).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


def accepting(dsn: str) -> bool:
    """Whether the server at `dsn` (a libpq DSN) answers a query now."""
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


class PostgresUnreachable(psycopg.OperationalError):
    """`scratch_database` could not connect to the server to create the database."""


@contextmanager
def scratch_database(postgres_url: str, prefix: str, *, keep: bool = False) -> Iterator[str]:
    """The URL of a new, empty database `<prefix>_<random>` on `postgres_url`'s server, dropped on exit (FORCE)
    unless `keep`.

    PostgresUnreachable when the server cannot be reached to create it. The drop opens a connection of its own, so
    it works after the server was restarted meanwhile (the fault campaign restarts it)."""
    admin_dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        conn = psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        raise PostgresUnreachable(str(exc)) from exc
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if not keep:
            _drop(admin_dsn, name)


def _drop(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=10) as again:
        again.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
