"""The `Gateway` container: settings, store, cipher and clock, passed to every service function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from cryptography import x509
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.crypto import DataCipher, load_data_key
from gateway.delivery.signal import OutboxSignal
from gateway.observability.telemetry import Telemetry
from gateway.security import outbound as outbound_rules
from gateway.security.guarded_transport import GuardedTransport
from gateway.security.outbound import OutboundPolicy, Resolver
from gateway.security.ratelimit import RateLimiter
from gateway.settings import Settings
from gateway.signing.keys import SigningKeyStore
from gateway.signing.trust import load_trust_anchors
from gateway.store.db import create_engine, is_sqlite, session_factory


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Gateway:
    """Everything a service needs, injected: nothing here is built at import."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cipher: DataCipher
    clock: Callable[[], datetime] = field(default=utc_now)
    http_transport: httpx.AsyncBaseTransport | None = None
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(per_minute=1200, burst=300))
    signing: SigningKeyStore | None = None
    eps_trust_anchors: list[x509.Certificate] = field(default_factory=list)
    outbox_signal: OutboxSignal = field(default_factory=OutboxSignal)
    """Wakes this process's $release long-polls when an order is queued (gateway/delivery/signal.py)."""
    telemetry: Telemetry = field(default_factory=Telemetry)
    """Metrics, worker heartbeats and breakers of this gateway (gateway.observability)."""
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)
    """Where provider endpoints, webhooks and JWKS URLs may point (gateway/security/outbound.py)."""
    resolver: Resolver = outbound_rules.system_resolver

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.settings.effective_database_url)

    async def close(self) -> None:
        if isinstance(self.http_transport, GuardedTransport):
            await self.http_transport.close()
        await self.engine.dispose()


def build_gateway(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    http_transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> Gateway:
    """Everything wired from settings; tests pass their own clock, HTTP transport and resolver. Without a transport,
    outbound requests go through one that connects only where the outbound policy allows."""
    engine = create_engine(settings.effective_database_url)
    cipher = load_data_key(settings.data_key, settings.data_dir, settings.index_key)
    signing = SigningKeyStore.load_or_create(settings.data_dir, settings.mode, clock=clock)
    anchors = load_trust_anchors(settings.eps_trust_anchors) if settings.eps_trust_anchors else []
    policy = OutboundPolicy.from_settings(
        settings.outbound_allow_cidrs, allow_loopback=settings.outbound_allow_loopback, mode=settings.mode
    )
    resolver = resolver or outbound_rules.system_resolver  # looked up now: tests put a fake resolver there
    return Gateway(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        cipher=cipher,
        clock=clock,
        http_transport=http_transport or GuardedTransport(policy, resolver),
        limiter=RateLimiter(per_minute=settings.rate_per_minute, burst=settings.rate_burst),
        signing=signing,
        eps_trust_anchors=anchors,
        outbound=policy,
        resolver=resolver,
    )
