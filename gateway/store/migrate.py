"""`hgw db upgrade`: Alembic migrations, run from the installed package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.errors import StoreError
from gateway.store.db import is_sqlite, secure_sqlite_file, sync_url

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to `revision`, creating the SQLite file (0600, gateway/private_files.py) when needed."""
    if is_sqlite(database_url):
        secure_sqlite_file(database_url)
    command.upgrade(alembic_config(database_url), revision)


def current_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def applied_revision(engine: AsyncEngine) -> str | None:
    """The Alembic revision the database is at; StoreError when it cannot be read (down, or never migrated)."""
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except SQLAlchemyError as exc:
        raise StoreError(f"database unavailable or not migrated ({type(exc).__name__})") from exc
    return None if version is None else str(version)
