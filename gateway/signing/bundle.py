"""Signed outbound bundles: a Provenance entry holding a detached JWS over the JCS form of the rest of the bundle.

What is signed is the bundle without the gateway's Provenance entry (an `entry` array left empty is dropped), in
RFC 8785 form: key order and whitespace do not matter, every value and array order does. The Provenance is told
apart from others (an EPS prescriber's, say) by its signature: `sigFormat` application/jose with the ISO-ASTM
E1762 "Verification Signature" type. Its own fields (target, recorded, when) are not covered by the signature.

The gateway is a Device entry of the bundle (added once, signed with the rest), and the Provenance's `agent.who`
and `signature.who` reference it. A prescriber's Provenance, whose `signature.who` references the requester, is
never touched: it stays the one EPS matches to `MedicationRequest.requester`.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from gateway.fhir.datatypes import fhir_datetime
from gateway.signing.canonical import canonical_json
from gateway.signing.exceptions import CanonicalisationError, MalformedSignatureError
from gateway.signing.jws import parse_detached, sign_detached, verify_detached
from gateway.signing.keys import SigningKeyStore, keys_from_jwks

GATEWAY_DISPLAY = "Homecare Gateway"
GATEWAY_DEVICE_SYSTEM = "https://fhir.homecaregateway.uk/Id/gateway"
GATEWAY_DEVICE_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://fhir.homecaregateway.uk/Device/homecare-gateway"))
GATEWAY_DEVICE_URL = f"urn:uuid:{GATEWAY_DEVICE_ID}"
SIG_FORMAT = "application/jose"
SIGNATURE_TYPE_SYSTEM = "urn:iso-astm:E1762-95:2013"
VERIFICATION_SIGNATURE = "1.2.840.10065.1.12.1.5"
_DISPLAY = "Verification Signature"


class VerdictStatus(StrEnum):
    VALID = "valid"
    UNSIGNED = "unsigned"  # no gateway Provenance in the bundle
    MALFORMED = "malformed"  # Provenance or JWS not in the expected shape, or several gateway signatures
    UNKNOWN_KID = "unknown-kid"  # signed with a key the verifier does not hold
    BAD_SIGNATURE = "bad-signature"  # the bundle (or the signature) was changed after signing


@dataclass(frozen=True, slots=True)
class Verdict:
    status: VerdictStatus
    kid: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is VerdictStatus.VALID


def sign_bundle(
    bundle: Mapping[str, Any],
    store: SigningKeyStore,
    *,
    now: datetime,
    target_refs: list[str],
    provenance_id: str | None = None,
) -> dict[str, Any]:
    """A copy of `bundle` with the gateway's signed Provenance appended (replacing any earlier one).

    Raises CanonicalisationError when a value has no exact RFC 8785 form (see `canonical`).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not target_refs:
        raise ValueError("Provenance.target needs at least one reference")
    unsigned = with_gateway_device(without_gateway_provenance(bundle))
    key = store.current()
    jws = sign_detached(canonical_json(unsigned), key.private_key, key.kid)
    pid = provenance_id or str(uuid.uuid4())
    when = fhir_datetime(now)
    gateway = {"reference": GATEWAY_DEVICE_URL, "display": GATEWAY_DISPLAY}
    provenance = {
        "resourceType": "Provenance",
        "id": pid,
        "target": [{"reference": ref} for ref in target_refs],
        "recorded": when,
        "agent": [{"who": dict(gateway)}],
        "signature": [
            {
                "type": [{"system": SIGNATURE_TYPE_SYSTEM, "code": VERIFICATION_SIGNATURE, "display": _DISPLAY}],
                "when": when,
                "who": dict(gateway),
                "sigFormat": SIG_FORMAT,
                "data": base64.b64encode(jws.encode("ascii")).decode("ascii"),
            }
        ],
    }
    return {**unsigned, "entry": [*unsigned.get("entry", []), {"fullUrl": f"urn:uuid:{pid}", "resource": provenance}]}


def verify_bundle(bundle: Mapping[str, Any], keys: SigningKeyStore | Mapping[str, Any]) -> Verdict:
    """Check the gateway signature of `bundle` against a key store or a published JWKS (`{"keys": [...]}`).

    Never raises for what is in the bundle: every failure is a verdict. A JWKS that cannot be read raises
    SigningKeyError: that is the verifier's configuration, not the message.
    """
    public_keys = _public_keys(keys)
    entries = bundle.get("entry")
    found = [e.get("resource") for e in (entries if isinstance(entries, list) else []) if _is_gateway_entry(e)]
    if not found:
        return Verdict(VerdictStatus.UNSIGNED, detail="no gateway Provenance entry")
    if len(found) > 1:
        return Verdict(VerdictStatus.MALFORMED, detail=f"{len(found)} gateway Provenance entries, one expected")
    try:
        jws = parse_detached(_jws_text(found[0]))
    except MalformedSignatureError as exc:
        return Verdict(VerdictStatus.MALFORMED, detail=str(exc))
    key = public_keys.get(jws.kid)
    if key is None:
        return Verdict(VerdictStatus.UNKNOWN_KID, kid=jws.kid, detail="no such key in the key set")
    try:
        payload = canonical_json(without_gateway_provenance(bundle))
    except CanonicalisationError as exc:
        return Verdict(VerdictStatus.MALFORMED, kid=jws.kid, detail=str(exc))
    if not verify_detached(jws, payload, key):
        return Verdict(VerdictStatus.BAD_SIGNATURE, kid=jws.kid, detail="the signature does not match the bundle")
    return Verdict(VerdictStatus.VALID, kid=jws.kid)


def without_gateway_provenance(bundle: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy of `bundle` without gateway Provenance entries; an `entry` array left empty is dropped."""
    out = {k: v for k, v in bundle.items() if k != "entry"}
    entries = bundle.get("entry")
    if isinstance(entries, list):
        kept = [e for e in entries if not _is_gateway_entry(e)]
        if kept:
            out["entry"] = kept
    elif entries is not None:
        out["entry"] = entries
    return out


def gateway_device() -> dict[str, Any]:
    """The Device that stands for the gateway in the bundles it signs."""
    return {
        "resourceType": "Device",
        "id": GATEWAY_DEVICE_ID,
        "identifier": [{"system": GATEWAY_DEVICE_SYSTEM, "value": "homecare-gateway"}],
        "deviceName": [{"name": GATEWAY_DISPLAY, "type": "user-friendly-name"}],
    }


def with_gateway_device(bundle: dict[str, Any]) -> dict[str, Any]:
    """`bundle` with the gateway's Device entry appended, unless it already has it (a bundle signed again)."""
    entries = bundle.get("entry")
    entries = entries if isinstance(entries, list) else []
    if any(isinstance(e, Mapping) and e.get("fullUrl") == GATEWAY_DEVICE_URL for e in entries):
        return bundle
    return {**bundle, "entry": [*entries, {"fullUrl": GATEWAY_DEVICE_URL, "resource": gateway_device()}]}


def is_gateway_provenance(resource: object) -> bool:
    """Whether `resource` is a Provenance this gateway signs (JOSE verification signature)."""
    if not isinstance(resource, Mapping) or resource.get("resourceType") != "Provenance":
        return False
    signatures = resource.get("signature")
    return isinstance(signatures, list) and any(_is_gateway_signature(s) for s in signatures)


def _is_gateway_entry(entry: object) -> bool:
    return isinstance(entry, Mapping) and is_gateway_provenance(entry.get("resource"))


def _is_gateway_signature(signature: object) -> bool:
    if not isinstance(signature, Mapping) or signature.get("sigFormat") != SIG_FORMAT:
        return False
    types = signature.get("type")
    return isinstance(types, list) and any(
        isinstance(t, Mapping) and t.get("system") == SIGNATURE_TYPE_SYSTEM and t.get("code") == VERIFICATION_SIGNATURE
        for t in types
    )


def _jws_text(provenance: Mapping[str, Any]) -> str:
    signature = next(s for s in provenance["signature"] if _is_gateway_signature(s))
    data = signature.get("data")
    if not isinstance(data, str) or not data:
        raise MalformedSignatureError("Provenance.signature.data", "missing")
    try:
        return base64.b64decode("".join(data.split()), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedSignatureError("Provenance.signature.data", "not base64 of an ASCII JWS") from exc


def _public_keys(keys: SigningKeyStore | Mapping[str, Any]) -> Mapping[str, ec.EllipticCurvePublicKey]:
    return keys.public_keys() if isinstance(keys, SigningKeyStore) else keys_from_jwks(keys)
