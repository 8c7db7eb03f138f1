"""The `Gateway` container: settings, store, cipher, clock and the process's shared parts, passed to every service
function. It only holds them: `gateway.wiring.build_gateway` builds one from settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx
    from cryptography import x509
    from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
    from sqlmodel.ext.asyncio.session import AsyncSession

    from gateway.observability.telemetry import Telemetry
    from gateway.security.crypto import DataCipher
    from gateway.security.outbound import OutboundPolicy, Resolver
    from gateway.security.ratelimit import RateLimiter
    from gateway.settings import Settings
    from gateway.signing.keys import SigningKeyStore
    from gateway.store.outbox_signal import OutboxSignal


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Gateway:
    """Everything a service needs, injected: nothing here is built at import (see `gateway.wiring`)."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cipher: DataCipher
    clock: Callable[[], datetime]
    http_transport: httpx.AsyncBaseTransport
    limiter: RateLimiter
    signing: SigningKeyStore | None
    eps_trust_anchors: list[x509.Certificate]
    outbox_signal: OutboxSignal
    """Wakes this process's $release long-polls when an order is queued (gateway/store/outbox_signal.py)."""
    telemetry: Telemetry
    """Metrics, worker heartbeats and breakers of this gateway (gateway.observability)."""
    outbound: OutboundPolicy
    """Where provider endpoints, webhooks and JWKS URLs may point (gateway/security/outbound.py)."""
    resolver: Resolver
    is_sqlite: bool
    """The store is the embedded SQLite file (one writer at a time), not PostgreSQL."""
    provider_polls: dict[str, datetime] = field(default_factory=dict)
    """When this process last recorded each provider's poll (`delivery.release`): a busy poller is not a write
    per request."""
    closers: tuple[Callable[[], Awaitable[None]], ...] = ()
    """What `close` releases besides the engine: the outbound transport the gateway built for itself."""

    async def close(self) -> None:
        for close in self.closers:
            await close()
        await self.engine.dispose()
