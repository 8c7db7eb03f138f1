"""The connection-time half of the outbound policy (`outbound.py`): an httpx transport whose connections go only to
addresses the policy allows. The host is resolved once per connection, every address checked, and the socket opened
to the first checked address; TLS still verifies the certificate against the host name, so nothing else changes.
Redirects are never followed by the gateway's clients, and proxies from the environment are not used."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from gateway.security.outbound import OutboundPolicy, Resolver, system_resolver


class OutboundRefused(httpcore.ConnectError):
    """A connection the outbound policy refuses; httpx raises it as the cause of an `httpx.ConnectError`
    (`refused_by_policy` tells the two apart: a refusal is permanent, a failed connection is not)."""


def refused_by_policy(exc: BaseException) -> bool:
    return isinstance(exc.__cause__, OutboundRefused)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """TCP connections to the policy's allowed addresses only."""

    def __init__(self, policy: OutboundPolicy, resolver: Resolver, inner: httpcore.AsyncNetworkBackend) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        for address in addresses:
            problem = self.policy.address_problem(address)
            if problem is not None:
                raise OutboundRefused(f"refused by the outbound policy: {host} resolves to {problem}")
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        return await self.inner.connect_tcp(
            addresses[0], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("the outbound policy allows no Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class LoopbackOnlyBackend(httpcore.AsyncNetworkBackend):
    """The fake network for tests: connects to loopback addresses and refuses any other at once, so a test that
    resolves names to public addresses (to pass the policy) never sends a packet off the machine."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if not _is_loopback(host):
            raise httpcore.ConnectError(f"tests connect to loopback only, not {host}")
        return await self.inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def network_backend() -> httpcore.AsyncNetworkBackend:
    """The network a `GuardedTransport` connects through when given none (tests put `LoopbackOnlyBackend` here)."""
    return httpcore.AnyIOBackend()


DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
"""The gateway's shared transport: every client it opens (webhooks, alerts, key sets) shares these connections."""


class GuardedTransport(httpx.AsyncHTTPTransport):
    """`httpx.AsyncHTTPTransport` (no environment proxies) on a `GuardedBackend`.

    One is shared by every client the gateway opens (`Gateway.http_transport`), so a client closing does not close
    it: `close()` does, when the gateway closes."""

    def __init__(
        self,
        policy: OutboundPolicy,
        resolver: Resolver = system_resolver,
        *,
        verify: ssl.SSLContext | bool = True,
        inner: httpcore.AsyncNetworkBackend | None = None,
        limits: httpx.Limits = DEFAULT_LIMITS,
        http2: bool = False,
    ) -> None:
        # One context for both pools (the parent's is replaced below): loading the CA bundle takes tens of ms.
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False)
        # With `http2`, HTTP/2 is offered in the TLS handshake (ALPN) and used where the server picks it; plain
        # HTTP and servers that do not pick it get HTTP/1.1. Every connection goes through the guarded backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http2=http2,
            network_backend=GuardedBackend(policy, resolver, inner or network_backend()),
        )

    async def aclose(self) -> None:
        """Kept open for the gateway's next client (see the class docstring)."""

    async def close(self) -> None:
        await super().aclose()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
