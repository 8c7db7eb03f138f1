"""Check a gateway's signature on a bundle it sent, independently of the gateway's own code.

The format, as the gateway documents it (docs/signing.md): a Provenance entry of the bundle carries a signature of
`sigFormat` application/jose and type urn:iso-astm:E1762-95:2013 1.2.840.10065.1.12.1.5 ("Verification
Signature"); its `data` is base64 of a detached compact JWS (RFC 7515 Appendix F, `header..signature`, protected
header `{"alg": "ES256", "kid": …}`, nothing else but `typ`) over the RFC 8785 (JCS) bytes of the bundle without
that Provenance entry (an `entry` array left empty is dropped). The key is the one of the target's published JWKS
(`/.well-known/jwks.json`) named by `kid`.

The canonical form is written here (`canonical_json`) rather than taken from the gateway, and PyJWT checks the
signature, so a canonicalisation bug of the gateway fails certification instead of being shared by both sides.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jwt

SIG_FORMAT = "application/jose"
SIGNATURE_TYPE_SYSTEM = "urn:iso-astm:E1762-95:2013"
VERIFICATION_SIGNATURE = "1.2.840.10065.1.12.1.5"
ALG = "ES256"
_HEADER_FIELDS = {"alg", "kid", "typ"}
_INT_LIMIT = 2**53 - 1
# JSON.stringify's escapes (ECMA-262 QuoteJSONString), which RFC 8785 section 3.2.2.2 adopts.
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class CanonicalError(ValueError):
    """A value with no RFC 8785 form: not JSON, a lone surrogate, or a number beyond an IEEE 754 double."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """`status` is valid, unsigned, malformed, unknown-kid or bad-signature; `detail` says why when not valid."""

    status: str
    kid: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "valid"


# --- RFC 8785 -----------------------------------------------------------------------------------------------------
def canonical_json(value: Any) -> bytes:
    """The RFC 8785 (JSON Canonicalization Scheme) bytes of a parsed JSON value."""
    return _value(value).encode("utf-8")


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int | float | Decimal):
        return _number(value)
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise CanonicalError("an object key is not a string")
        # Section 3.2.3: members sorted by the UTF-16 code units of their names.
        ordered = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(f"{_string(k)}:{_value(value[k])}" for k in ordered) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_value(v) for v in value) + "]"
    raise CanonicalError(f"{type(value).__name__} is not a JSON value")


def _string(text: str) -> str:
    out = []
    for ch in text:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise CanonicalError("a lone surrogate in a string")
        out.append(_ESCAPES.get(ch) or (f"\\u{ord(ch):04x}" if ord(ch) < 0x20 else ch))
    return '"' + "".join(out) + '"'


def _number(value: float | Decimal) -> str:
    """ECMA-262 Number::toString of the double the value is (section 3.2.2.3), refusing one no double equals."""
    if isinstance(value, int) and abs(value) > _INT_LIMIT:
        raise CanonicalError(f"integer {value} is beyond ±(2^53 - 1), the I-JSON range")
    number = float(value)
    if not math.isfinite(number) or (isinstance(value, Decimal) and Decimal(repr(number)) != value):
        raise CanonicalError(f"{value} has no exact IEEE 754 double form, which JCS numbers are")
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    # repr is the shortest text that reads back as the same double: the digits ECMAScript prints too.
    digits_tuple, exponent = Decimal(repr(abs(number))).normalize().as_tuple()[1:]
    digits = "".join(map(str, digits_tuple))
    k = len(digits)
    n = int(exponent) + k  # the value is 0.DIGITS × 10^n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if n > 0 else '-'}{abs(n - 1)}"
    return sign + text


# --- the gateway's signature ----------------------------------------------------------------------------------------
def is_gateway_provenance(resource: object) -> bool:
    """Whether `resource` is a Provenance carrying a JOSE verification signature (the gateway's)."""
    if not isinstance(resource, Mapping) or resource.get("resourceType") != "Provenance":
        return False
    signatures = resource.get("signature")
    return isinstance(signatures, list) and any(_is_jose_signature(s) for s in signatures)


def _is_jose_signature(signature: object) -> bool:
    if not isinstance(signature, Mapping) or signature.get("sigFormat") != SIG_FORMAT:
        return False
    types = signature.get("type")
    return isinstance(types, list) and any(
        isinstance(t, Mapping) and t.get("system") == SIGNATURE_TYPE_SYSTEM and t.get("code") == VERIFICATION_SIGNATURE
        for t in types
    )


def _is_gateway_entry(entry: object) -> bool:
    return isinstance(entry, Mapping) and is_gateway_provenance(entry.get("resource"))


def signed_content(bundle: Mapping[str, Any]) -> dict[str, Any]:
    """What the signature covers: `bundle` without its gateway Provenance entries, an emptied `entry` dropped."""
    out = {k: v for k, v in bundle.items() if k != "entry"}
    entries = bundle.get("entry")
    if isinstance(entries, list):
        kept = [e for e in entries if not _is_gateway_entry(e)]
        if kept:
            out["entry"] = kept
    elif entries is not None:
        out["entry"] = entries
    return out


def verify_bundle(bundle: Mapping[str, Any], jwks: Mapping[str, Any]) -> Verdict:
    """The verdict on the gateway signature of `bundle` against a published JWKS (`{"keys": [...]}`).

    Never raises for what is in the bundle or the key set: every failure is a verdict."""
    entries = bundle.get("entry")
    found = [e["resource"] for e in (entries if isinstance(entries, list) else []) if _is_gateway_entry(e)]
    if not found:
        return Verdict("unsigned", detail="no gateway Provenance entry")
    if len(found) > 1:
        return Verdict("malformed", detail=f"{len(found)} gateway Provenance entries, one expected")
    try:
        header_b64, signature_b64, kid = _detached_jws(found[0])
    except ValueError as exc:
        return Verdict("malformed", detail=str(exc))
    key = _public_key(jwks, kid)
    if key is None:
        return Verdict("unknown-kid", kid=kid, detail="no such ES256 key in the published JWKS")
    try:
        payload = canonical_json(signed_content(bundle))
    except CanonicalError as exc:
        return Verdict("malformed", kid=kid, detail=str(exc))
    attached = f"{header_b64}.{_b64url(payload)}.{signature_b64}"
    try:
        jwt.PyJWS().decode_complete(attached, key, algorithms=[ALG])
    except jwt.PyJWTError:
        return Verdict("bad-signature", kid=kid, detail="the signature does not match the bundle")
    return Verdict("valid", kid=kid)


def _detached_jws(provenance: Mapping[str, Any]) -> tuple[str, str, str]:
    """(header, signature, kid) of the Provenance's detached JWS; ValueError saying what is wrong."""
    signature = next(s for s in provenance["signature"] if _is_jose_signature(s))
    data = signature.get("data")
    if not isinstance(data, str) or not data:
        raise ValueError("Provenance.signature.data is missing")
    try:
        text = base64.b64decode("".join(data.split()), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("Provenance.signature.data is not base64 of an ASCII JWS") from exc
    parts = text.split(".")
    if len(parts) != 3 or parts[1] or not parts[0] or not parts[2]:
        raise ValueError("the JWS is not a detached compact JWS (header..signature)")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise ValueError("the JWS header is not base64url JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != ALG or set(header) - _HEADER_FIELDS:
        raise ValueError(f"the JWS header {header!r} is not {{alg: {ALG}, kid}}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("the JWS header has no kid")
    return parts[0], parts[2], kid


def _public_key(jwks: Mapping[str, Any], kid: str) -> Any:
    """The public key of the JWKS's EC P-256 key `kid`, else None."""
    keys = jwks.get("keys")
    for jwk in keys if isinstance(keys, list) else []:
        if isinstance(jwk, Mapping) and jwk.get("kid") == kid and jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            try:
                return jwt.PyJWK.from_dict(dict(jwk), algorithm=ALG).key
            except jwt.PyJWTError:
                return None
    return None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
