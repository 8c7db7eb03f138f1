"""What a suite's tests share: the target, the preset's parties, captured HTTP clients and state between steps.

A preset (JSON) names the parties the suite acts as, each a registered client of the gateway under test:

    {"trust": {"client_id": "…", "ods": "RBA", "key_file": "trust.key.json"},
     "provider": {"client_id": "…", "ods": "VNFKT", "private_key_pem": "-----BEGIN…", "kid": "…", "alg": "ES384"},
     "other_trust": {…}, "other_provider": {…}}

`key_file` is the private key file `hgw clients keygen` writes (relative to the preset's folder); the key may
also be inline. `other_trust` and `other_provider` are optional: without them the cross-tenant tests skip.
`hgw conformance preset` writes such a file and registers its parties.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conformance.capture import Recorder
from conformance.client_auth import ClientCredentialsAuth, ClientKey, read_client_key
from conformance.errors import UsageError

PARTY_NAMES = ("trust", "provider", "other_trust", "other_provider")


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    ods: str
    key: ClientKey


def load_preset(path: Path) -> dict[str, Party]:
    """The parties of a preset file; UsageError naming the field when it is unusable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read preset {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"preset {path}: expected a JSON object")
    parties: dict[str, Party] = {}
    for name in PARTY_NAMES:
        entry = data.get(name)
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise UsageError(f"preset {path}: {name} must be an object")
        try:
            client_id = str(entry["client_id"])
            if "key_file" in entry:
                key = read_client_key((path.parent / entry["key_file"]).resolve(), client_id)
            else:
                key = ClientKey(
                    client_id,
                    str(entry["private_key_pem"]).encode(),
                    str(entry["kid"]),
                    str(entry.get("alg", "ES384")),
                )
            parties[name] = Party(name, str(entry["ods"]), key)
        except (KeyError, OSError, ValueError) as exc:
            raise UsageError(f"preset {path}: {name} is incomplete or unreadable ({exc})") from exc
    return parties


def write_preset(path: Path, parties: dict[str, Party], gateway_url: str | None = None) -> None:
    """A preset file with inline keys (mode 0600: it holds private keys)."""
    data: dict[str, Any] = {"gateway": gateway_url} if gateway_url else {}
    for name, party in parties.items():
        data[name] = {
            "client_id": party.key.client_id,
            "ods": party.ods,
            "private_key_pem": party.key.private_key_pem.decode(),
            "kid": party.key.kid,
            "alg": party.key.alg,
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(data, indent=2))


@dataclass
class SuiteContext:
    """Shared by every test of one run. `state` carries what one step hands the next (ids, orders)."""

    target: str
    parties: dict[str, Party] = field(default_factory=dict)
    recorder: Recorder = field(default_factory=Recorder)
    timeout: float = 30.0
    """Seconds to wait for the other side (a poll, a trust's delivery) before a test fails."""
    options: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    out: Any = print
    tls: ssl.SSLContext | bool = True
    """How HTTPS targets are verified, and the client certificate presented to ones that want one (tls_context)."""
    _clients: dict[tuple[str | None, str], httpx.AsyncClient] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.target.rstrip("/")

    def party(self, name: str) -> Party | None:
        return self.parties.get(name)

    def client(self, party: str | None = None, base_url: str | None = None) -> httpx.AsyncClient:
        """A captured client for `party` (private_key_jwt against the target's /oauth2/token), or anonymous;
        one per party, so its token is reused."""
        base = base_url or self.base
        if (party, base) in self._clients:
            return self._clients[(party, base)]
        auth = None
        if party is not None:
            known = self.parties.get(party)
            if known is None:
                raise UsageError(f"the preset has no {party!r}")
            auth = ClientCredentialsAuth(known.key, f"{base}/oauth2/token")
        client = self.recorder.client(base, auth=auth, timeout=self.timeout, verify=self.tls)
        self._clients[(party, base)] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


def tls_context(client_cert: str | None, client_key: str | None, ca_cert: str | None) -> ssl.SSLContext | bool:
    """The TLS settings for `--client-cert/--client-key/--ca-cert`: a context presenting the client certificate
    (mutual TLS) and trusting `ca_cert` besides the system CAs; True (system CAs only) when none is given."""
    if not (client_cert or client_key or ca_cert):
        return True
    if bool(client_cert) != bool(client_key):
        raise UsageError("--client-cert and --client-key go together")
    try:
        context = ssl.create_default_context(cafile=ca_cert)
        if client_cert and client_key:
            context.load_cert_chain(client_cert, client_key)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"unusable TLS material: {exc}") from exc
    return context
