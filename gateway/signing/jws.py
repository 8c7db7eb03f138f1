"""Detached JWS (RFC 7515 Appendix F) with ES256: `header..signature`, the payload carried elsewhere.

The standard detached form, not RFC 7797's unencoded payload: the signing input is
`BASE64URL(header) "." BASE64URL(payload)` as for any compact JWS, and the payload part is left out of the
serialisation. PyJWT signs and verifies; its own "detached" option is RFC 7797 (`b64: false`), so the payload is
cut out after signing and put back before verifying. The protected header is `{"alg": "ES256", "kid": ...}`;
anything else in it (`b64`, `crit`, another alg) makes the JWS malformed for this gateway.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.signing.exceptions import MalformedSignatureError

ALG = "ES256"
_ALLOWED_HEADER = {"alg", "kid", "typ"}


@dataclass(frozen=True, slots=True)
class DetachedJws:
    """A parsed `header..signature`; `kid` names the key that should verify it."""

    header_b64: str
    signature_b64: str
    kid: str
    header: dict[str, Any]


def sign_detached(payload: bytes, key: ec.EllipticCurvePrivateKey, kid: str) -> str:
    """The detached compact JWS of `payload`."""
    token = jwt.PyJWS().encode(payload, key, algorithm=ALG, headers={"kid": kid, "typ": None})
    header_b64, _payload_b64, signature_b64 = token.split(".")
    return f"{header_b64}..{signature_b64}"


def parse_detached(text: str) -> DetachedJws:
    """Split and check a detached JWS; MalformedSignatureError says what is wrong."""
    parts = text.split(".")
    if len(parts) != 3:
        raise MalformedSignatureError("jws", f"a compact JWS has 3 parts, this has {len(parts)}")
    header_b64, payload_b64, signature_b64 = parts
    if payload_b64:
        raise MalformedSignatureError("jws", "the payload part must be empty (detached)")
    try:
        header = json.loads(_b64url_decode(header_b64))
    except (ValueError, binascii.Error, RecursionError) as exc:  # RecursionError: absurdly nested JSON
        raise MalformedSignatureError("jws header", "not base64url JSON") from exc
    if not isinstance(header, dict):
        raise MalformedSignatureError("jws header", "not a JSON object")
    if header.get("alg") != ALG:
        raise MalformedSignatureError("jws header alg", f"{header.get('alg')!r} where {ALG} is required")
    extra = set(header) - _ALLOWED_HEADER
    if extra:
        raise MalformedSignatureError("jws header", f"unexpected parameters {sorted(extra)}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MalformedSignatureError("jws header kid", "missing")
    if not signature_b64:
        raise MalformedSignatureError("jws signature", "empty")
    return DetachedJws(header_b64=header_b64, signature_b64=signature_b64, kid=kid, header=header)


def verify_detached(jws: DetachedJws, payload: bytes, key: ec.EllipticCurvePublicKey) -> bool:
    """Whether the JWS signs `payload` with `key`; a signature that is not even well-formed is False too."""
    attached = f"{jws.header_b64}.{_b64url_encode(payload)}.{jws.signature_b64}"
    try:
        jwt.PyJWS().decode_complete(attached, key, algorithms=[ALG])
    except jwt.PyJWTError:
        return False
    return True


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
