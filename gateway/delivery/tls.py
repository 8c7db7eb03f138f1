"""Outbound mTLS: a provider whose endpoint wants a client certificate gets one.

Certificates are provisioned on the gateway host, one folder per provider under `HGW_PROVIDER_TLS_DIR`:
`<ODS>/client.crt` and `<ODS>/client.key` (PEM; the key file readable by the gateway only), and optionally
`<ODS>/ca.pem` to trust the provider's server certificate when it is not signed by a public CA. A provider
without a folder is reached with server-authenticated TLS only. The contexts made here go to the provider's own
connection pool (`gateway.delivery.pools`).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from gateway.errors import ConfigurationError


class ProviderTls:
    """Where each provider's client certificate is provisioned, and the TLS context that presents it."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

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

    def context_for(self, provider_ods: str) -> ssl.SSLContext | None:
        """A context presenting the provider's client certificate when one is provisioned, else None."""
        found = self.material(provider_ods)
        if found is None:
            return None
        cert, key, ca = found
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        try:
            context.load_cert_chain(str(cert), str(key))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"unusable client certificate for {provider_ods}: {exc}") from exc
        return context
