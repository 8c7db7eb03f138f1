"""Client registration and the token endpoint: private_key_jwt assertions in, short-lived bearer tokens out."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import jwt
from sqlalchemy.exc import IntegrityError

from gateway import audit
from gateway.context import Gateway
from gateway.domain.identifiers import is_valid_ods_code
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.errors import AuthenticationError, ConflictError, InputError, Issue, Location
from gateway.security.assertions import MAX_ASSERTION_CHARS, MAX_ASSERTION_LIFETIME, check_claims
from gateway.security.client_keys import ALLOWED_ALGS, parse_jwks
from gateway.security.outbound import check_url as check_outbound
from gateway.store import repository
from gateway.store.clients import active_token
from gateway.store.security_tables import AccessToken, ApiClient, AssertionJti

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


async def add_client(
    gw: Gateway,
    *,
    role: str,
    ods: str,
    jwks: str | None = None,
    jwks_url: str | None = None,
    alg: str | None = None,
    client_id: str | None = None,
) -> ApiClient:
    """Register a client. Its algorithm is pinned now: from `alg`, else from its first key."""
    issues = []
    if role not in {r.value for r in Role}:
        issues.append(
            Issue(
                code="INVALID_VALUE",
                message="unknown role",
                location=Location(column="--role"),
                value=role,
                expected="trust, provider, operator or tester",
            )
        )
    if not is_valid_ods_code(ods):
        issues.append(
            Issue(code="INVALID_ODS_CODE", message="not an ODS code", location=Location(column="--ods"), value=ods)
        )
    if (jwks is None) == (jwks_url is None):
        issues.append(
            Issue(
                code="MISSING_VALUE",
                message="give the client's JWKS as a file or as a URL",
                location=Location(column="--jwks"),
            )
        )
    if issues:
        raise InputError(issues)
    if jwks_url is not None:
        await check_outbound(gw.outbound, gw.resolver, jwks_url, code="INVALID_VALUE", column="--jwks", path="jwks")
    keys = parse_jwks(jwks if jwks is not None else await fetch_jwks(gw, str(jwks_url)))
    chosen = alg or next(iter(keys.values())).algorithm_name
    if chosen not in ALLOWED_ALGS:
        raise InputError(
            [
                Issue(
                    code="INVALID_VALUE",
                    message="algorithm not allowed",
                    location=Location(column="--alg"),
                    value=chosen,
                    expected=", ".join(ALLOWED_ALGS),
                )
            ]
        )
    client = ApiClient(
        id=client_id or str(uuid.uuid4()),
        role=role,
        ods=ods.upper(),
        alg=chosen,
        jwks=jwks,
        jwks_url=jwks_url,
        active=True,
        created_at=gw.clock(),
    )
    try:
        async with gw.sessions() as session, session.begin():
            repository.save(session, client)
            await repository.save_now(session)
            await audit.append(
                session,
                gw.clock,
                audit.SYSTEM,
                "security.configuration.change",
                "api-client",
                client.id,
                "success",
                {"change": "client-added", "role": role},
            )
    except IntegrityError as exc:
        raise ConflictError(f"client {client.id} is already registered") from exc
    return client


async def fetch_jwks(gw: Gateway, url: str) -> str:
    async with httpx.AsyncClient(transport=gw.http_transport, timeout=10) as http:
        try:
            response = await http.get(url)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise AuthenticationError(f"could not fetch the client's JWKS from {url}: {exc}") from exc
    return response.text


async def issue_token(gw: Gateway, form: dict[str, str], *, token_url: str) -> IssuedToken:
    """Check a client-credentials request with a private_key_jwt assertion and issue a bearer token.

    `token_url` is this endpoint's configured public URL (`assertions.token_audience`); the assertion's aud must be
    exactly it.
    """
    if form.get("grant_type") != "client_credentials":
        raise AuthenticationError("grant_type must be client_credentials", oauth_error="unsupported_grant_type")
    if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
        raise AuthenticationError(
            f"a client_assertion of type {ASSERTION_TYPE} is required", oauth_error="invalid_request"
        )
    assertion = form["client_assertion"]
    if len(assertion) > MAX_ASSERTION_CHARS:
        raise AuthenticationError(f"the client assertion is longer than {MAX_ASSERTION_CHARS} characters")
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"the client assertion is not a JWT: {exc}") from exc
    client_id = unverified.get("iss")
    async with gw.sessions() as session:
        known = isinstance(client_id, str) and 0 < len(client_id) <= 64
        client = await repository.get_by_id(session, ApiClient, client_id) if known else None
    if client is None or not client.active:
        raise AuthenticationError("unknown client")
    claims = await _verify(gw, client, assertion, header, token_url)
    now = gw.clock()
    scope = _granted_scope(Role(client.role), form.get("scope"))
    token = secrets.token_urlsafe(32)
    lifetime = gw.settings.token_seconds
    async with gw.sessions() as session, session.begin():
        repository.save(
            session, AssertionJti(client_id=client.id, jti=str(claims["jti"]), expires_at=now + MAX_ASSERTION_LIFETIME)
        )
        repository.save(
            session,
            AccessToken(
                token_sha256=_sha(token),
                client_id=client.id,
                role=client.role,
                ods=client.ods,
                scope=scope,
                expires_at=now + timedelta(seconds=lifetime),
            )
        )
        try:
            await repository.save_now(session)
        except IntegrityError as exc:
            raise AuthenticationError("this client assertion (jti) was already used") from exc
    return IssuedToken(token, lifetime, scope)


async def _verify(
    gw: Gateway, client: ApiClient, assertion: str, header: dict[str, Any], token_url: str
) -> dict[str, Any]:
    if header.get("alg") != client.alg:
        raise AuthenticationError(f"assertions of this client must be signed with {client.alg}")
    keys = parse_jwks(client.jwks if client.jwks is not None else await fetch_jwks(gw, str(client.jwks_url)))
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise AuthenticationError("unknown kid")
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key.key,
            algorithms=[client.alg],
            options={
                "verify_aud": False,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["iss", "sub", "aud", "exp", "jti"],
            },
        )
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"the client assertion does not verify: {exc}") from exc
    check_claims(claims, client_id=client.id, audience=token_url, now=gw.clock().timestamp())
    return claims


def _granted_scope(role: Role, requested: str | None) -> str:
    allowed = ROLE_SCOPES[role]
    if not requested:
        return " ".join(allowed)
    wanted = requested.split()
    if not set(wanted) <= set(allowed):
        raise AuthenticationError(f"scope not allowed for a {role.value} client", oauth_error="invalid_scope")
    return " ".join(wanted)


async def authenticate(gw: Gateway, bearer: str | None) -> Principal:
    """The principal a bearer token stands for; AuthenticationError when missing, unknown or expired."""
    if not bearer:
        raise AuthenticationError("a bearer token is required", oauth_error="invalid_token")
    # The client's state is read with the token: disabling a client ends every token it holds at once.
    row = await active_token(gw.engine, _sha(bearer))
    if row is None or row.expires_at <= gw.clock():
        raise AuthenticationError("the access token is unknown, expired or revoked", oauth_error="invalid_token")
    return Principal(row.client_id, Role(row.role), row.ods, frozenset(row.scope.split()))


async def authenticate_client(
    gw: Gateway, bearer: str | None, *, seen: Callable[[Principal], object] | None = None
) -> Principal:
    """`authenticate`, then take one request from the client's rate limit (RateLimitedError when it is spent).

    `seen` gets the principal before the limit is checked (the API notes it on the request, so that a rate-limited
    request is still logged as the client's)."""
    principal = await authenticate(gw, bearer)
    if seen is not None:
        seen(principal)
    gw.limiter.check(f"client:{principal.client_id}")
    return principal


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
