"""SQL for API clients and their credentials: live tokens per client, revocation, and the purge of spent ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.store.security_tables import AccessToken, ApiClient, AssertionJti


async def clients_with_live_tokens(session: AsyncSession, now: datetime) -> list[tuple[ApiClient, int]]:
    """Every client, oldest first, with how many of its tokens are still unexpired at `now`."""
    live = (
        select(col(AccessToken.client_id), func.count().label("n"))
        .where(col(AccessToken.expires_at) > now)
        .group_by(col(AccessToken.client_id))
        .subquery()
    )
    query = (
        select(ApiClient, func.coalesce(live.c.n, 0))
        .outerjoin(live, live.c.client_id == col(ApiClient.id))
        .order_by(col(ApiClient.created_at), col(ApiClient.id))
    )
    return [(client, int(n)) for client, n in (await session.exec(query)).all()]


async def active_token(session: AsyncSession, token_sha256: str) -> AccessToken | None:
    """The token with this hash, only while its client is active (a disabled client's tokens are no one's)."""
    query = (
        select(AccessToken)
        .join(ApiClient, col(ApiClient.id) == col(AccessToken.client_id))
        .where(col(AccessToken.token_sha256) == token_sha256, col(ApiClient.active))
    )
    return (await session.exec(query)).first()


async def delete_credentials(session: AsyncSession, client_id: str, *, jtis: bool) -> int:
    """Delete the client's access tokens (and, with `jtis`, its used assertion ids); returns the tokens deleted."""
    if jtis:
        await session.exec(delete(AssertionJti).where(col(AssertionJti.client_id) == client_id))
    result = await session.exec(delete(AccessToken).where(col(AccessToken.client_id) == client_id))
    return int(result.rowcount or 0)


async def purge_expired(session: AsyncSession, now: datetime) -> tuple[int, int]:
    """Delete assertion ids and access tokens expired at `now`; returns (assertion ids, tokens) deleted."""
    jtis = await session.exec(delete(AssertionJti).where(col(AssertionJti.expires_at) <= now))
    tokens = await session.exec(delete(AccessToken).where(col(AccessToken.expires_at) <= now))
    return int(jtis.rowcount or 0), int(tokens.rowcount or 0)
