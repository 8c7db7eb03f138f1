"""Registered simulated parties: a key pair each, registered as an API client of the gateway."""

from __future__ import annotations

import json

import httpx

from gateway.context import Gateway
from gateway.security.client_auth import ClientCredentialsAuth, ClientKey
from gateway.security.client_keys import generate_client_keypair
from gateway.security.clients import add_client


async def register_party(gw: Gateway, role: str, ods: str, *, alg: str = "ES384") -> ClientKey:
    """Generate a key pair, register its public half, and return the private side."""
    pem, jwks, kid = generate_client_keypair(alg)
    client = await add_client(gw, role=role, ods=ods, jwks=json.dumps(jwks), alg=alg)
    return ClientKey(client.id, pem, kid, alg)


def party_client(base_url: str, key: ClientKey, *, timeout: float = 30) -> httpx.AsyncClient:
    """An HTTP client that authenticates as `key` against the gateway at `base_url`."""
    auth = ClientCredentialsAuth(key, f"{base_url.rstrip('/')}/oauth2/token")
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, auth=auth)
