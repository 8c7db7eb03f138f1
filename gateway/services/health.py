"""Readiness: the database answers and is at the latest migration."""

from __future__ import annotations

from gateway.errors import StoreError
from gateway.services.context import Gateway
from gateway.store.migrate import applied_revision, current_head


async def database_ready(gw: Gateway) -> str | None:
    """None when ready, else what is wrong."""
    try:
        version = await applied_revision(gw.engine)
    except StoreError as exc:
        return str(exc)
    head = current_head()
    if version != head:
        return f"database at migration {version}, code expects {head}: run `hgw db upgrade`"
    return None
