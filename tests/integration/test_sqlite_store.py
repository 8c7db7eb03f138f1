"""The embedded store runs SQLite in WAL mode with synchronous=FULL and foreign keys on."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from gateway.store.db import create_engine


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hgw.sqlite3'}")
    try:
        async with engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            sync = (await conn.execute(text("PRAGMA synchronous"))).scalar()
            fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
    finally:
        await engine.dispose()
    assert (mode, sync, fks) == ("wal", 2, 1)  # synchronous 2 = FULL
