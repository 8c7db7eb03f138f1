"""Readiness: the database answers and is at the latest migration."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gateway.services.context import Gateway
from gateway.store.migrate import current_head


async def database_ready(gw: Gateway) -> str | None:
    """None when ready, else what is wrong."""
    try:
        async with gw.engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except SQLAlchemyError as exc:
        return f"database unavailable or not migrated ({type(exc).__name__})"
    head = current_head()
    if version != head:
        return f"database at migration {version}, code expects {head}: run `hgw db upgrade`"
    return None
