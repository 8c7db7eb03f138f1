"""The token endpoint refuses every bad client assertion, and bearer tokens expire."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from gateway.context import Gateway
from gateway.security.client_auth import ClientKey, client_assertion
from gateway.security.client_keys import generate_client_keypair
from gateway.security.clients import add_client

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _form(assertion: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **extra,
    }


def _claims(key: ClientKey, aud: str, **over: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": key.client_id,
        "sub": key.client_id,
        "aud": aud,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 120,
        **over,
    }


def _sign(key: ClientKey, claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode(claims, key.private_key_pem, algorithm=key.alg, headers={"kid": key.kid, **header})


def _without(claims: dict[str, Any], name: str) -> dict[str, Any]:
    return {c: v for c, v in claims.items() if c != name}


def _raw_claims(key: ClientKey, claims: dict[str, Any], **raw: str) -> str:
    """A signed assertion whose claims `raw` are written into the JSON as given (a number no JSON encoder makes)."""
    text = json.dumps(claims)[:-1] + "".join(f', "{name}": {value}' for name, value in raw.items()) + "}"
    header = _b64(json.dumps({"alg": key.alg, "kid": key.kid, "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(text.encode())}"
    signature = jwt.get_algorithm_by_name(key.alg).sign(
        signing_input.encode(), serialization.load_pem_private_key(key.private_key_pem, password=None)
    )
    return f"{signing_input}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(key: ClientKey, claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none", "kid": key.kid, "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def _hs256_with_public_key(key: ClientKey, claims: dict[str, Any]) -> str:
    """The classic algorithm-confusion attack: HMAC keyed with the client's public key."""
    private = serialization.load_pem_private_key(key.private_key_pem, password=None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    import hashlib
    import hmac

    sig = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(sig)}"


NEGATIVES: dict[str, Callable[[ClientKey, str], str]] = {
    "wrong aud": lambda k, aud: _sign(k, _claims(k, aud + "/other")),
    "aud as a list with extras": lambda k, aud: _sign(k, _claims(k, [aud, "https://evil.example"])),  # type: ignore[arg-type]
    "expired": lambda k, aud: _sign(k, _claims(k, aud, exp=int(time.time()) - 5)),
    "exp too far ahead": lambda k, aud: _sign(k, _claims(k, aud, exp=int(time.time()) + 301 + 60)),
    "no exp": lambda k, aud: _sign(k, _without(_claims(k, aud), "exp")),
    "no jti": lambda k, aud: _sign(k, _without(_claims(k, aud), "jti")),
    "sub is not iss": lambda k, aud: _sign(k, _claims(k, aud, sub="someone-else")),
    "alg none": lambda k, aud: _unsigned(k, _claims(k, aud)),
    "HS256 signed with the public key": lambda k, aud: _hs256_with_public_key(k, _claims(k, aud)),
    "unknown kid": lambda k, aud: jwt.encode(
        _claims(k, aud), k.private_key_pem, algorithm=k.alg, headers={"kid": "not-a-registered-kid"}
    ),
    "signed by another key": lambda k, aud: jwt.encode(
        _claims(k, aud), generate_client_keypair("ES384")[0], algorithm="ES384", headers={"kid": k.kid}
    ),
    "unknown client": lambda k, aud: _sign(k, _claims(k, aud, iss="nobody", sub="nobody")),
    # Time claims are NumericDates: integers. NaN would never expire (every comparison with it is false).
    "exp NaN": lambda k, aud: _sign(k, _claims(k, aud, exp=float("nan"))),
    "exp Infinity": lambda k, aud: _sign(k, _claims(k, aud, exp=float("inf"))),
    "exp a float": lambda k, aud: _sign(k, _claims(k, aud, exp=time.time() + 60.5)),
    "exp true": lambda k, aud: _sign(k, _claims(k, aud, exp=True)),
    "exp a string": lambda k, aud: _sign(k, _claims(k, aud, exp=str(int(time.time()) + 60))),
    "exp a huge integer": lambda k, aud: _sign(k, _claims(k, aud, exp=10**300)),
    "exp 5,000 digits": lambda k, aud: _raw_claims(k, _without(_claims(k, aud), "exp"), exp="9" * 5000),
    "iat NaN": lambda k, aud: _sign(k, _claims(k, aud, iat=float("nan"))),
    "iat in the future": lambda k, aud: _sign(k, _claims(k, aud, iat=int(time.time()) + 600)),
    "nbf in the future": lambda k, aud: _sign(k, _claims(k, aud, nbf=int(time.time()) + 600)),
    "jti of 129 characters": lambda k, aud: _sign(k, _claims(k, aud, jti="j" * 129)),
    "jti of 100 kB": lambda k, aud: _sign(k, _claims(k, aud, jti="j" * 100_000)),
    "jti a number": lambda k, aud: _sign(k, _claims(k, aud, jti=12345)),
    "jti empty": lambda k, aud: _sign(k, _claims(k, aud, jti="")),
    "not a JWT": lambda k, aud: "this-is-not-a-jwt",
}


@pytest.mark.parametrize("case", list(NEGATIVES))
async def test_bad_assertions_are_refused(
    case: str, anon: httpx.AsyncClient, parties: dict[str, ClientKey], base_url: str
) -> None:
    key = parties["trust"]
    token_url = f"{base_url}/oauth2/token"
    r = await anon.post("/oauth2/token", data=_form(NEGATIVES[case](key, token_url)))
    assert r.status_code in (400, 401), (case, r.text)
    assert r.json()["error"] in ("invalid_client", "invalid_request"), r.text
    assert "access_token" not in r.json()


async def test_good_assertion_works_once_and_jti_replay_is_refused(
    anon: httpx.AsyncClient, parties: dict[str, ClientKey], base_url: str
) -> None:
    key = parties["provider"]
    assertion = client_assertion(key, f"{base_url}/oauth2/token")
    first = await anon.post("/oauth2/token", data=_form(assertion))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert set(body["scope"].split()) == {"orders:release", "orders:update", "fhir:validate"}
    again = await anon.post("/oauth2/token", data=_form(assertion))
    assert again.status_code == 401 and "jti" in again.json()["error_description"]


async def test_algorithm_is_pinned_per_client(anon: httpx.AsyncClient, gw: Gateway, base_url: str) -> None:
    pem, jwks, kid = generate_client_keypair("RS384")
    client = await add_client(gw, role="trust", ods="RBA", jwks=json.dumps(jwks), alg="RS384")
    rs384 = ClientKey(client.id, pem, kid, "RS384")
    as_rs512 = ClientKey(client.id, pem, kid, "RS512")  # the same RSA key, another algorithm
    url = f"{base_url}/oauth2/token"
    assert (await anon.post("/oauth2/token", data=_form(client_assertion(rs384, url)))).status_code == 200
    refused = await anon.post("/oauth2/token", data=_form(client_assertion(as_rs512, url)))
    assert refused.status_code == 401 and "RS384" in refused.json()["error_description"]


async def test_scope_can_be_narrowed_not_widened(
    anon: httpx.AsyncClient, parties: dict[str, ClientKey], base_url: str
) -> None:
    key = parties["trust"]
    url = f"{base_url}/oauth2/token"
    narrow = await anon.post("/oauth2/token", data=_form(client_assertion(key, url), scope="prescriptions:read"))
    assert narrow.json()["scope"] == "prescriptions:read"
    wide = await anon.post("/oauth2/token", data=_form(client_assertion(key, url), scope="orders:release"))
    assert wide.status_code == 400 and wide.json()["error"] == "invalid_scope"


async def test_expired_and_unknown_bearer_tokens_are_refused(
    trust: httpx.AsyncClient, anon: httpx.AsyncClient, gw: Gateway
) -> None:
    assert (await trust.get("/api/v1/prescriptions/nothing")).status_code == 404  # authenticated: just not found
    r = await anon.get("/api/v1/prescriptions/nothing", headers={"Authorization": "Bearer made-up"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    real_clock = gw.clock
    gw.clock = lambda: real_clock() + timedelta(seconds=gw.settings.token_seconds + 1)
    assert (await trust.get("/api/v1/prescriptions/nothing")).status_code == 401


async def test_a_narrowed_token_only_does_what_its_scope_allows(
    anon: httpx.AsyncClient, parties: dict[str, ClientKey], base_url: str
) -> None:
    url = f"{base_url}/oauth2/token"
    r = await anon.post(
        "/oauth2/token", data=_form(client_assertion(parties["trust"], url), scope="prescriptions:read")
    )
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await anon.get("/api/v1/prescriptions/nothing", headers=headers)).status_code == 404  # may read
    post = await anon.post("/api/v1/exports", content=b"x", headers=headers | {"Content-Type": "text/csv"})
    assert post.status_code == 403 and "scope" in post.text  # may not write


async def test_client_registered_by_jwks_url(gw: Gateway, anon: httpx.AsyncClient, base_url: str) -> None:
    pem, jwks, kid = generate_client_keypair("ES384")
    served = []

    def jwks_server(request: httpx.Request) -> httpx.Response:
        served.append(str(request.url))
        return httpx.Response(200, json=jwks)

    gw.http_transport = httpx.MockTransport(jwks_server)
    client = await add_client(gw, role="provider", ods="VNFKT", jwks_url="https://provider.example/jwks.json")
    key = ClientKey(client.id, pem, kid, client.alg)
    r = await anon.post("/oauth2/token", data=_form(client_assertion(key, f"{base_url}/oauth2/token")))
    assert r.status_code == 200, r.text
    assert served == ["https://provider.example/jwks.json"] * 2  # at registration, then to verify the assertion


async def test_the_audience_is_the_configured_url_whatever_the_host_header_says(
    anon: httpx.AsyncClient, parties: dict[str, ClientKey], base_url: str, gw: Gateway
) -> None:
    """An assertion minted for another service (aud: its URL) cannot be replayed here by sending its Host."""
    key = parties["trust"]
    assert gw.settings.base_url == base_url
    for host, proto in (("other-service.example", "http"), ("other-service.example", "https")):
        forged = client_assertion(key, f"{proto}://{host}/oauth2/token")
        headers = {"Host": host, "X-Forwarded-Proto": proto, "X-Forwarded-Host": host}
        r = await anon.post("/oauth2/token", data=_form(forged), headers=headers)
        assert r.status_code == 401 and base_url in r.json()["error_description"], r.text
    https_here = client_assertion(key, f"{base_url.replace('http:', 'https:')}/oauth2/token")
    r = await anon.post("/oauth2/token", data=_form(https_here), headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 401, r.text
    good = client_assertion(key, f"{base_url}/oauth2/token")
    r = await anon.post("/oauth2/token", data=_form(good), headers={"Host": "other-service.example"})
    assert r.status_code == 200, r.text


async def test_an_assertion_longer_than_16_kib_is_refused_before_it_is_read(anon: httpx.AsyncClient) -> None:
    r = await anon.post("/oauth2/token", data=_form("e" * 20_000 + ".e.e"))
    assert r.status_code == 401 and "longer" in r.json()["error_description"]
