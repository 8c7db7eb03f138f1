"""Client key material: JWKS parsing, the algorithm a key implies, and key-pair generation for clients."""

from __future__ import annotations

import json
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.errors import InputError, Issue, Location

ALLOWED_ALGS = ("RS384", "ES384", "RS512")


def parse_jwks(raw: str | bytes | dict[str, Any], *, where: str = "--jwks") -> dict[str, jwt.PyJWK]:
    """The usable public keys of a JWKS by kid; every key must have a kid and no private part."""
    try:
        data = json.loads(raw) if isinstance(raw, str | bytes) else raw
        keys = data["keys"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad(where, "not a JWKS (a JSON object with a keys array)") from exc
    found: dict[str, jwt.PyJWK] = {}
    for i, key in enumerate(keys):
        if not isinstance(key, dict) or not key.get("kid"):
            raise _bad(f"{where} keys[{i}]", "every key needs a kid")
        if "d" in key:
            raise _bad(f"{where} keys[{i}]", "the JWKS holds a private key; register the public key only")
        try:
            found[str(key["kid"])] = jwt.PyJWK(key, algorithm=key.get("alg") or default_alg(key))
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError) as exc:
            raise _bad(f"{where} keys[{i}]", f"unusable key: {exc}") from exc
    if not found:
        raise _bad(where, "the JWKS has no keys")
    return found


def default_alg(key: dict[str, Any]) -> str:
    """RS384 for RSA keys, ES384 for P-384 EC keys: the NHS API platform's choices."""
    if key.get("kty") == "RSA":
        return "RS384"
    if key.get("kty") == "EC" and key.get("crv") == "P-384":
        return "ES384"
    raise ValueError(f"no supported algorithm for a {key.get('kty')} key on {key.get('crv')}")


def generate_client_keypair(alg: str = "ES384") -> tuple[bytes, dict[str, Any], str]:
    """A new private key (PEM), its public JWKS and kid, for a client to register."""
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if alg == "ES384":
        private = ec.generate_private_key(ec.SECP384R1())
    elif alg in ("RS384", "RS512"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        raise _bad("--alg", f"unsupported algorithm {alg}")
    kid = str(uuid.uuid4())
    public_jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(private.public_key()))
    public_jwk.update(kid=kid, alg=alg, use="sig")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, {"keys": [public_jwk]}, kid


def _bad(where: str, message: str) -> InputError:
    return InputError([Issue(code="INVALID_JWKS", message=message, location=Location(column=where))])
