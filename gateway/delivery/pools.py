"""One pooled HTTP client per push provider: kept-alive connections, HTTP/2 where the provider offers it, and the
provider's own client certificate (`tls.py`).

A relay sends a round's orders to a provider over the same few connections, so the TCP and TLS handshakes are paid
once per connection rather than once per order, and one provider's traffic never waits for another's connections.
HTTP/2 is offered in the TLS handshake (ALPN): a provider that picks it gets every order of the round multiplexed
on one connection; plain HTTP and providers that do not pick it get HTTP/1.1 keep-alive. Every pool connects
through the gateway's outbound guard (`GuardedTransport`: allowed addresses only, certificates verified, no
redirects followed, no proxies from the environment), exactly as the shared client does.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping

import httpx

from gateway.delivery.tls import ProviderTls
from gateway.security.guarded_transport import GuardedTransport
from gateway.security.outbound import OutboundPolicy, Resolver

KEEPALIVE_SECONDS = 30.0
"""How long an idle connection to a provider is kept for the next round."""

Wrap = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


class ProviderPools:
    """A client per provider, made on first use and kept until `aclose`: at most `connections` connections each."""

    def __init__(
        self,
        tls: ProviderTls,
        policy: OutboundPolicy,
        resolver: Resolver,
        *,
        connections: int,
        verify: ssl.SSLContext | None = None,
        wrap: Wrap | None = None,
        headers: Mapping[str, str] | None = None,
        shared: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`verify`: the context for providers without a client certificate (made once here when not given);
        `wrap` and `headers` let a caller (the fault campaign's worker) watch each provider's exchanges; `shared`,
        a transport injected into the gateway (a fake network, in tests), carries every provider's requests
        instead of a pool each."""
        self.tls = tls
        self.policy = policy
        self.resolver = resolver
        self.limits = httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=KEEPALIVE_SECONDS
        )
        self._verify = verify
        self._wrap = wrap
        self._shared = shared
        self._headers = dict(headers or {})
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._transports: list[GuardedTransport] = []

    def client_for(self, provider_ods: str) -> httpx.AsyncClient:
        """The provider's client; its certificate is read on first use (ConfigurationError when unusable)."""
        client = self._clients.get(provider_ods)
        if client is None:
            certificate = self.tls.context_for(provider_ods)
            inner: httpx.AsyncBaseTransport
            if self._shared is not None and certificate is None:
                inner = self._shared
            else:
                guarded = GuardedTransport(
                    self.policy, self.resolver, verify=certificate or self._default_context(), limits=self.limits,
                    http2=True,
                )
                self._transports.append(guarded)
                inner = guarded
            transport = self._wrap(inner) if self._wrap else inner
            client = httpx.AsyncClient(transport=transport, follow_redirects=False, headers=self._headers)
            self._clients[provider_ods] = client
        return client

    def _default_context(self) -> ssl.SSLContext:
        if self._verify is None:
            self._verify = httpx.create_ssl_context(trust_env=False)  # the CA bundle, loaded once per relay
        return self._verify

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        for transport in self._transports:
            await transport.close()  # a GuardedTransport's `aclose` leaves it open for sharing: these are ours
        self._clients.clear()
        self._transports.clear()
