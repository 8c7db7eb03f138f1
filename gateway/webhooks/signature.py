"""The webhook signature: a detached ES256 JWS over the exact body, with the gateway's current signing key.

`X-HGW-Signature: <protected header>..<signature>` (RFC 7515 Appendix F: the payload part left empty). The
protected header is `{"alg": "ES256", "kid": …, "typ": "hgw-webhook+jws", "ts": <unix seconds>, "event_id": …}`, so
the time of sending and the event id are signed with the body: a receiver checks `ts` is recent (a captured request
replayed later is refused) and deduplicates on `event_id`. The key is published at `/.well-known/jwks.json`.

`verify` is the reference check a trust's receiver does; the tests use it against what the relay sends.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from gateway.signing.exceptions import SignatureError
from gateway.signing.keys import SigningKey, keys_from_jwks

SIGNATURE_HEADER = "X-HGW-Signature"
TIMESTAMP_HEADER = "X-HGW-Timestamp"
EVENT_HEADER = "X-HGW-Event-Id"
TYP = "hgw-webhook+jws"
ALG = "ES256"
TOLERANCE_SECONDS = 300
_HEADER_KEYS = {"alg", "kid", "typ", "ts", "event_id"}


class WebhookSignatureError(SignatureError):
    """A webhook request whose signature does not hold: `reason` says which check failed."""

    code = "WEBHOOK_SIGNATURE_INVALID"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Signed:
    """What a verified signature vouches for."""

    kid: str
    timestamp: int
    event_id: str


def sign(body: bytes, key: SigningKey, *, event_id: str, timestamp: int) -> str:
    """The `X-HGW-Signature` value for `body` sent at `timestamp` (unix seconds) as event `event_id`."""
    headers = {"kid": key.kid, "typ": TYP, "ts": timestamp, "event_id": event_id}
    token = jwt.PyJWS().encode(body, key.private_key, algorithm=ALG, headers=headers)
    header_b64, _payload, signature_b64 = token.split(".")
    return f"{header_b64}..{signature_b64}"


def signed_headers(body: bytes, key: SigningKey, *, event_id: str, timestamp: int) -> dict[str, str]:
    """The three headers every webhook request carries."""
    return {
        SIGNATURE_HEADER: sign(body, key, event_id=event_id, timestamp=timestamp),
        TIMESTAMP_HEADER: str(timestamp),
        EVENT_HEADER: event_id,
    }


def verify(
    body: bytes,
    headers: Mapping[str, str],
    jwks: Mapping[str, Any],
    *,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> Signed:
    """Check a received webhook request against the gateway's JWKS; WebhookSignatureError says what failed.

    `headers` is looked up case-insensitively (pass the request's headers as they came)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get(SIGNATURE_HEADER.lower())
    if not value:
        raise WebhookSignatureError(f"no {SIGNATURE_HEADER} header")
    parts = value.split(".")
    if len(parts) != 3 or parts[1] != "" or not parts[0] or not parts[2]:
        raise WebhookSignatureError("not a detached compact JWS (header..signature)")
    header = _header(parts[0])
    kid, ts, event_id = header.get("kid"), header.get("ts"), header.get("event_id")
    if not isinstance(kid, str) or not isinstance(ts, int) or isinstance(ts, bool) or not isinstance(event_id, str):
        raise WebhookSignatureError("the protected header lacks kid, ts or event_id")
    if lowered.get(TIMESTAMP_HEADER.lower()) != str(ts):
        raise WebhookSignatureError(f"{TIMESTAMP_HEADER} differs from the signed timestamp")
    if lowered.get(EVENT_HEADER.lower()) != event_id:
        raise WebhookSignatureError(f"{EVENT_HEADER} differs from the signed event id")
    if abs(now - ts) > tolerance:
        raise WebhookSignatureError(f"the signed timestamp is more than {tolerance} s from now: a replay or a skew")
    key = keys_from_jwks(jwks).get(kid)
    if key is None:
        raise WebhookSignatureError(f"kid {kid} is not in the gateway's JWKS")
    attached = f"{parts[0]}.{_b64url(body)}.{parts[2]}"
    try:
        jwt.PyJWS().decode_complete(attached, key, algorithms=[ALG])
    except jwt.PyJWTError as exc:
        raise WebhookSignatureError("the signature does not match the body") from exc
    return Signed(kid=kid, timestamp=ts, event_id=event_id)


def _header(part: str) -> dict[str, Any]:
    try:
        header = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise WebhookSignatureError("the protected header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise WebhookSignatureError("the protected header is not a JSON object")
    if header.get("alg") != ALG or header.get("typ") != TYP:
        raise WebhookSignatureError(f"the protected header must say alg {ALG} and typ {TYP}")
    if set(header) - _HEADER_KEYS:
        raise WebhookSignatureError(f"unexpected header parameters {sorted(set(header) - _HEADER_KEYS)}")
    return header


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
