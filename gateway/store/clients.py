"""SQL for API clients and their credentials: live tokens per client, revocation, and the purge of spent ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncEngine
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


@dataclass(frozen=True, slots=True)
class LiveToken:
    """What a bearer token stands for."""

    client_id: str
    role: str
    ods: str
    scope: str
    expires_at: datetime


_ACTIVE_TOKEN = (
    core_select(
        col(AccessToken.client_id), col(AccessToken.role), col(AccessToken.ods), col(AccessToken.scope),
        col(AccessToken.expires_at),
    )
    .join(ApiClient, col(ApiClient.id) == col(AccessToken.client_id))
    .where(col(AccessToken.token_sha256) == bindparam("token_sha256"), col(ApiClient.active))
)


async def active_token(engine: AsyncEngine, token_sha256: str) -> LiveToken | None:
    """The token with this hash, only while its client is active (a disabled client's tokens are no one's).

    One statement outside any transaction (autocommit): every request reads this, and on PostgreSQL a transaction
    around one SELECT costs two more round trips (BEGIN, ROLLBACK), on SQLite the writers' lock (BEGIN IMMEDIATE).
    """
    async with engine.connect() as connection:
        reader = await connection.execution_options(isolation_level="AUTOCOMMIT")
        row = (await reader.execute(_ACTIVE_TOKEN, {"token_sha256": token_sha256})).first()
    return None if row is None else LiveToken(*row)


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
