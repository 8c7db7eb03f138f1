"""Providers and routing rules: the router, provider listings, the poll mark and the per-provider advisory lock.

Functions take an open session; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, text, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.domain.routing import Router
from gateway.store.tables import (
    Provider,
    RoutingRule,
)


async def load_router(session: AsyncSession) -> Router:
    providers = {p.ods: p for p in (await session.exec(select(Provider))).all()}
    rules = (await session.exec(select(RoutingRule).order_by(col(RoutingRule.priority), col(RoutingRule.id)))).all()
    return Router(providers, list(rules))


# A provider's last poll is recorded at most this often: the update locks the provider row, so doing it on every
# `$release` would make a provider's concurrent releases queue for that row.
POLL_TOUCH_SECONDS = 1.0


async def touch_provider_poll(session: AsyncSession, provider_ods: str, now: datetime) -> None:
    """Record that the provider polled, unless that was already recorded less than `POLL_TOUCH_SECONDS` ago."""
    stale = now - timedelta(seconds=POLL_TOUCH_SECONDS)
    stmt = (
        update(Provider)
        .where(col(Provider.ods) == provider_ods)
        .where(or_(col(Provider.last_poll_at).is_(None), col(Provider.last_poll_at) < stale))
        .values(last_poll_at=now)
    )
    await session.exec(stmt)


def _provider_lock_key(provider_ods: str) -> int:
    """The advisory lock key of a provider: 64 bits of a hash of its ODS code, as a signed bigint."""
    digest = hashlib.blake2b(f"hgw-provider:{provider_ods}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def hold_provider(session: AsyncSession, provider_ods: str, *, exclusive: bool) -> None:
    """Take the provider's transaction-level advisory lock on PostgreSQL (SQLite's writers are serialised already).

    `$release` takes it shared, so a provider's releases run side by side; pausing or changing the provider takes
    it exclusive, so it waits for the releases in flight, and every release after it sees the change. Take it
    before touching the provider row, as both sides do, so the two locks are always taken in the same order.
    """
    if (await session.connection()).dialect.name != "postgresql":
        return
    lock = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
    await session.exec(select(lock(_provider_lock_key(provider_ods))))


@dataclass(frozen=True, slots=True)
class ReleaseGate:
    """Whether a provider's orders may be handed over now (None from `release_gate` for an unknown provider)."""

    paused: bool
    active: bool


_PG_RELEASE_GATE = text(
    "SELECT (SELECT pg_advisory_xact_lock_shared(:lock_key)) IS NULL AS locked, provider.paused, provider.active "
    "FROM (SELECT 1) AS one LEFT JOIN provider ON provider.ods = :ods"
)


async def release_gate(session: AsyncSession, provider_ods: str) -> ReleaseGate | None:
    """`hold_provider(exclusive=False)` and the provider's paused and active flags, in one statement."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        row = (await connection.execute(
            core_select(col(Provider.paused), col(Provider.active)).where(col(Provider.ods) == provider_ods)
        )).first()
        return None if row is None else ReleaseGate(bool(row[0]), bool(row[1]))
    _locked, paused, active = (
        await connection.execute(_PG_RELEASE_GATE, {"lock_key": _provider_lock_key(provider_ods), "ods": provider_ods})
    ).one()
    return None if paused is None else ReleaseGate(bool(paused), bool(active))


async def list_providers(session: AsyncSession) -> list[Provider]:
    return list((await session.exec(select(Provider).order_by(col(Provider.ods)))).all())


async def list_rules(session: AsyncSession) -> list[RoutingRule]:
    stmt = select(RoutingRule).order_by(col(RoutingRule.priority), col(RoutingRule.id))
    return list((await session.exec(stmt)).all())


async def push_providers(session: AsyncSession) -> list[Provider]:
    """Providers the push relay serves: push mode, active, not paused, with an endpoint."""
    stmt = select(Provider).where(
        Provider.mode == "push",
        col(Provider.active).is_(True),
        col(Provider.paused).is_(False),
        col(Provider.endpoint).is_not(None),
    )
    return list((await session.exec(stmt.order_by(col(Provider.ods)))).all())

