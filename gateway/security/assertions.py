"""The claims of a private_key_jwt client assertion, checked after its signature (RFC 7523 §3, RFC 7519 §4.1).

Pure: claims, the client, the audience and the time in; AuthenticationError out. The rules are those of RFC 7523 and
of the NHS API platform's signed-JWT authentication: `iss` = `sub` = the client id, `aud` exactly the token endpoint's
configured URL, a `jti` used once, and an `exp` at most five minutes ahead. Every time claim is a NumericDate, which
JSON lets a signer write as a float, NaN, Infinity, true or a 5,000-digit number: only an integer within range is one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gateway.errors import AuthenticationError

MAX_ASSERTION_LIFETIME = timedelta(minutes=5)
MAX_JTI_CHARS = 128
MAX_ASSERTION_CHARS = 16 * 1024
"""An assertion is a few hundred bytes; a longer one is refused before it is decoded."""
CLOCK_SKEW_SECONDS = 60
"""How far ahead of our clock a client's iat and nbf may be."""
_LATEST_NUMERIC_DATE = 2**53
"""Beyond any real date, and the largest integer every JSON reader keeps exactly."""


def numeric_date(claims: dict[str, Any], name: str) -> int | None:
    """Claim `name` as a NumericDate (None when absent); AuthenticationError unless it is an integer in range."""
    if name not in claims:
        return None
    value = claims[name]
    # bool is an int to Python, and NaN/Infinity/1e9 are floats: neither is a NumericDate.
    if type(value) is not int or not 0 < value < _LATEST_NUMERIC_DATE:
        raise AuthenticationError(f"{name} must be a NumericDate: whole seconds since 1970 as an integer")
    return value


def check_claims(claims: dict[str, Any], *, client_id: str, audience: str, now: float) -> None:
    """AuthenticationError unless the verified `claims` fit client `client_id`, `audience` and the time `now`."""
    if claims.get("aud") != audience:
        raise AuthenticationError(f"aud must be exactly {audience}")
    if claims.get("sub") != client_id or claims.get("iss") != client_id:
        raise AuthenticationError("iss and sub must both be the client id")
    exp = numeric_date(claims, "exp")
    if exp is None:
        raise AuthenticationError("the client assertion needs an exp")
    if exp <= now:
        raise AuthenticationError("the client assertion has expired")
    if exp > now + MAX_ASSERTION_LIFETIME.total_seconds():
        raise AuthenticationError("exp is more than 5 minutes ahead")
    iat = numeric_date(claims, "iat")
    if iat is not None and iat > now + CLOCK_SKEW_SECONDS:
        raise AuthenticationError("iat is in the future")
    nbf = numeric_date(claims, "nbf")
    if nbf is not None and nbf > now + CLOCK_SKEW_SECONDS:
        raise AuthenticationError("the client assertion is not valid yet (nbf)")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
        raise AuthenticationError(f"jti must be a string of 1 to {MAX_JTI_CHARS} characters")


def token_audience(base_url: str) -> str:
    """The `aud` every assertion must carry: the token endpoint under the configured public URL (never the Host
    header of the request, which the caller chooses)."""
    return f"{base_url.rstrip('/')}/oauth2/token"
