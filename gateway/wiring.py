"""Wiring: one `Gateway` built from settings (the store, the data key, signing keys, trust anchors, the outbound
policy and its transport). The app's lifespan, the `hgw` command line, workers and tests call `build_gateway`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from gateway.context import Gateway, utc_now
from gateway.observability.telemetry import Telemetry
from gateway.security import outbound as outbound_rules
from gateway.security.crypto import load_data_key
from gateway.security.guarded_transport import GuardedTransport
from gateway.security.outbound import OutboundPolicy, Resolver
from gateway.security.ratelimit import RateLimiter
from gateway.settings import Settings
from gateway.signing.keys import SigningKeyStore
from gateway.signing.trust_anchors import load_trust_anchors
from gateway.store.db import engine_for, is_sqlite, session_factory
from gateway.store.outbox_signal import OutboxSignal


def build_gateway(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    http_transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> Gateway:
    """Everything wired from settings; tests pass their own clock, HTTP transport and resolver. Without a transport,
    outbound requests go through one that connects only where the outbound policy allows."""
    engine = engine_for(settings)
    cipher = load_data_key(settings.data_key, settings.data_dir, settings.index_key)
    signing = SigningKeyStore.load_or_create(settings.data_dir, settings.mode, clock=clock)
    anchors = load_trust_anchors(settings.eps_trust_anchors) if settings.eps_trust_anchors else []
    policy = OutboundPolicy.from_settings(
        settings.outbound_allow_cidrs, allow_loopback=settings.outbound_allow_loopback, mode=settings.mode
    )
    resolver = resolver or outbound_rules.system_resolver  # looked up now: tests put a fake resolver there
    transport = http_transport or GuardedTransport(policy, resolver)
    return Gateway(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        cipher=cipher,
        clock=clock,
        http_transport=transport,
        limiter=RateLimiter(per_minute=settings.rate_per_minute, burst=settings.rate_burst),
        signing=signing,
        eps_trust_anchors=anchors,
        outbound=policy,
        resolver=resolver,
        outbox_signal=OutboxSignal(),
        telemetry=Telemetry(),
        is_sqlite=is_sqlite(settings.effective_database_url),
        closers=(transport.close,) if isinstance(transport, GuardedTransport) else (),
    )
