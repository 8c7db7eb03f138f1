"""Outbound mTLS: a provider whose endpoint wants a client certificate gets one.

Certificates are provisioned on the gateway host, one folder per provider under `HGW_PROVIDER_TLS_DIR`:
`<ODS>/client.crt` and `<ODS>/client.key` (PEM; the key file readable by the gateway only), and optionally
`<ODS>/ca.pem` to trust the provider's server certificate when it is not signed by a public CA. A provider
without a folder is reached with the shared client (server-authenticated TLS only).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx

from gateway.errors import ConfigurationError
from gateway.security.guarded_transport import GuardedTransport
from gateway.security.outbound import OutboundPolicy, Resolver, system_resolver


class ProviderTls:
    """Per-provider HTTP clients carrying that provider's client certificate; built on first use, then kept."""

    def __init__(
        self, directory: Path | None, policy: OutboundPolicy | None = None, resolver: Resolver = system_resolver
    ) -> None:
        self.directory = directory
        self.policy = policy or OutboundPolicy()
        self.resolver = resolver
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._transports: list[GuardedTransport] = []

    def material(self, provider_ods: str) -> tuple[Path, Path, Path | None] | None:
        if self.directory is None:
            return None
        folder = self.directory / provider_ods
        cert, key, ca = folder / "client.crt", folder / "client.key", folder / "ca.pem"
        if not cert.exists() and not key.exists():
            return None
        if not (cert.exists() and key.exists()):
            raise ConfigurationError(f"{folder} needs both client.crt and client.key for mTLS")
        return cert, key, ca if ca.exists() else None

    def client_for(self, provider_ods: str) -> httpx.AsyncClient | None:
        """The mTLS client for a provider with certificates provisioned, else None (use the shared client)."""
        if provider_ods in self._clients:
            return self._clients[provider_ods]
        found = self.material(provider_ods)
        if found is None:
            return None
        cert, key, ca = found
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        try:
            context.load_cert_chain(str(cert), str(key))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"unusable client certificate for {provider_ods}: {exc}") from exc
        transport = GuardedTransport(self.policy, self.resolver, verify=context)  # the same outbound policy
        self._transports.append(transport)
        client = httpx.AsyncClient(transport=transport, follow_redirects=False)
        self._clients[provider_ods] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        for transport in self._transports:
            await transport.close()
        self._transports.clear()
        self._clients.clear()
