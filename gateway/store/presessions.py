"""SQL for console sign-in pre-sessions (store/security_tables.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.security_tables import ConsolePreSession


async def open_presession(
    session: AsyncSession, token_sha256: str, csrf_token: str, now: datetime, expires_at: datetime
) -> None:
    """Store a new pre-session, forgetting those expired by `now` (a sign-in form left open is not kept forever)."""
    await session.exec(delete(ConsolePreSession).where(col(ConsolePreSession.expires_at) <= now))
    session.add(ConsolePreSession(token_sha256=token_sha256, csrf_token=csrf_token, expires_at=expires_at))


async def redeem_presession(session: AsyncSession, token_sha256: str, now: datetime) -> str | None:
    """The CSRF token of the pre-session, deleting it (each is used once); None when unknown or expired."""
    found = await session.get(ConsolePreSession, token_sha256)
    if found is None:
        return None
    await session.delete(found)
    return found.csrf_token if found.expires_at > now else None
