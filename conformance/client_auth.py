"""The suite's side of private_key_jwt (RFC 7523, as docs/security.md describes it): what a trust or a provider
sends to a gateway's `/oauth2/token`, written here so the suites reach a target over HTTP alone."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True, slots=True)
class ClientKey:
    """A registered client's identity and signing key."""

    client_id: str
    private_key_pem: bytes
    kid: str
    alg: str = "ES384"


def client_assertion(key: ClientKey, token_url: str, *, lifetime: int = 240) -> str:
    """A signed assertion: iss = sub = client id, aud = the token URL exactly, a fresh jti, short exp."""
    issued = int(time.time())
    claims = {
        "iss": key.client_id,
        "sub": key.client_id,
        "aud": token_url,
        "jti": str(uuid.uuid4()),
        "iat": issued,
        "exp": issued + lifetime,
    }
    return jwt.encode(claims, key.private_key_pem, algorithm=key.alg, headers={"kid": key.kid, "typ": "JWT"})


def token_request(key: ClientKey, token_url: str) -> dict[str, str]:
    """The form of a client_credentials token request with a client assertion."""
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
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


def read_client_key(path: Path, client_id: str) -> ClientKey:
    """The key of a `hgw clients keygen` private key file (`{"kid", "alg", "private_key_pem"}`)."""
    data = json.loads(path.read_text())
    return ClientKey(client_id, data["private_key_pem"].encode(), data["kid"], data["alg"])


def new_key_pair() -> tuple[bytes, dict[str, Any], str]:
    """A fresh ES384 private key (PEM), the public JWKS to register, and its kid."""
    private = ec.generate_private_key(ec.SECP384R1())
    kid = str(uuid.uuid4())
    public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    public_jwk.update(kid=kid, alg="ES384", use="sig")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, {"keys": [public_jwk]}, kid
