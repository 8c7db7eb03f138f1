"""The client side of private_key_jwt: what trusts, providers and the simulators use to get tokens."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt


@dataclass(frozen=True, slots=True)
class ClientKey:
    """A registered client's identity and signing key."""

    client_id: str
    private_key_pem: bytes
    kid: str
    alg: str = "ES384"


def client_assertion(key: ClientKey, token_url: str, *, now: float | None = None, lifetime: int = 240) -> str:
    """A signed assertion: iss = sub = client id, aud = the token URL exactly, a fresh jti, short exp."""
    issued = time.time() if now is None else now
    claims = {
        "iss": key.client_id,
        "sub": key.client_id,
        "aud": token_url,
        "jti": str(uuid.uuid4()),
        "iat": int(issued),
        "exp": int(issued) + lifetime,
    }
    return jwt.encode(claims, key.private_key_pem, algorithm=key.alg, headers={"kid": key.kid, "typ": "JWT"})


def token_request(key: ClientKey, token_url: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": client_assertion(key, token_url),
    }


@dataclass
class ClientCredentialsAuth(httpx.Auth):
    """httpx auth that fetches a bearer token with a client assertion and renews it before it expires."""

    key: ClientKey
    token_url: str
    clock: Callable[[], float] = time.time
    _token: str | None = field(default=None, init=False)
    _expires: float = field(default=0.0, init=False)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._token is None or self.clock() > self._expires - 30:
            response = yield httpx.Request("POST", self.token_url, data=token_request(self.key, self.token_url))
            await response.aread()
            if response.status_code != 200:
                raise httpx.HTTPStatusError(
                    f"token request refused: {response.text}", request=request, response=response
                )
            body = response.json()
            self._token = body["access_token"]
            self._expires = self.clock() + float(body["expires_in"])
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def write_client_key(prefix: Path, pem: bytes, jwks: dict[str, Any], kid: str, alg: str) -> tuple[Path, Path]:
    """PREFIX.key.json (private key, kid and alg; mode 0600) and PREFIX.jwks.json (the public JWKS)."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    private_path = prefix.with_name(prefix.name + ".key.json")
    public_path = prefix.with_name(prefix.name + ".jwks.json")
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"kid": kid, "alg": alg, "private_key_pem": pem.decode()}, fh)
    public_path.write_text(json.dumps(jwks, indent=2))
    return private_path, public_path


def read_client_key(path: Path, client_id: str) -> ClientKey:
    data = json.loads(path.read_text())
    return ClientKey(client_id, data["private_key_pem"].encode(), data["kid"], data["alg"])
