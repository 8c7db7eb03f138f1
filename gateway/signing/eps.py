"""Verdicts on the XML-DSig signatures that EPS prescribers put in a Provenance; the Provenance is only read.

The checks run in this order, and the first that fails gives the verdict:
`malformed` (not base64 of an XML-DSig Signature, unreadable certificate), `unsigned` (empty SignatureValue or no
certificate: EPS's placeholders in unsigned examples), `invalid` (the SignatureValue does not verify over the
canonical SignedInfo with the certificate's key: changed after signing; or, on a prescription-order, the Reference
digest is not the digest of the HL7 v3 fragments EPS rebuilds from this bundle (`fragments`): a signature lifted
from another prescription, or a prescription changed after signing), `untrusted` (it verifies, but the certificate
does not chain to a configured trust anchor, so anyone could have made it), `verified`.
Only the first signature of the Provenance is inspected; EPS sends one. EPS does not sign cancellations
(prescription-order-update): there only the SignatureValue is checked, and the detail says so.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from gateway.signing.exceptions import FragmentError, MalformedSignatureError
from gateway.signing.fragments import fragments_to_be_hashed
from gateway.signing.trust_anchors import chain_to_anchor
from gateway.signing.xmldsig import XmlSignature, digest_matches, parse_signature, signature_value_verifies

PRESCRIPTION_ORDER = "prescription-order"


class EpsSignatureStatus(StrEnum):
    VERIFIED = "verified"
    UNTRUSTED = "untrusted"
    INVALID = "invalid"
    UNSIGNED = "unsigned"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class EpsSignatureVerdict:
    """The verdict, why, and who signed (the certificate's subject and issuer) when a certificate was read."""

    status: EpsSignatureStatus
    detail: str
    signer: str | None = None
    issuer: str | None = None
    signature_method: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The verdict as stored with the message."""
        return {
            "status": self.status.value,
            "detail": self.detail,
            "signer": self.signer,
            "issuer": self.issuer,
            "signatureMethod": self.signature_method,
        }


def inspect_eps_signature(
    provenance: Mapping[str, Any],
    trust_anchors: Sequence[x509.Certificate],
    *,
    now: datetime,
    bundle: Mapping[str, Any] | None,
) -> EpsSignatureVerdict:
    """The verdict on the Provenance's signature; certificates must be valid at `now`. Never raises on input.

    `bundle` is the message the Provenance came in: on a prescription-order the signed digest is checked against
    it. None only where there is no message (a Provenance inspected on its own): the detail then says the digest
    was not checked.
    """
    try:
        return _inspect(provenance, trust_anchors, now, bundle)
    except MalformedSignatureError as exc:
        return EpsSignatureVerdict(EpsSignatureStatus.MALFORMED, str(exc))


def _inspect(
    provenance: Mapping[str, Any],
    anchors: Sequence[x509.Certificate],
    now: datetime,
    bundle: Mapping[str, Any] | None,
) -> EpsSignatureVerdict:
    if not isinstance(provenance, Mapping) or provenance.get("resourceType") != "Provenance":
        raise MalformedSignatureError("Provenance", "not a Provenance resource")
    signatures = provenance.get("signature")
    if not signatures:
        return EpsSignatureVerdict(EpsSignatureStatus.UNSIGNED, "the Provenance has no signature")
    if not isinstance(signatures, list) or not isinstance(signatures[0], Mapping):
        raise MalformedSignatureError("Provenance.signature", "not a list of Signature elements")
    data = signatures[0].get("data")
    if not data:
        return EpsSignatureVerdict(EpsSignatureStatus.UNSIGNED, "the signature has no data")
    if not isinstance(data, str):
        raise MalformedSignatureError("Provenance.signature.data", "not a base64 string")
    try:
        xml = base64.b64decode("".join(data.split()), validate=True)
    except binascii.Error as exc:
        raise MalformedSignatureError("Provenance.signature.data", "not base64") from exc

    signature = parse_signature(xml)
    method = signature.signature_method
    if not signature.signature_value:
        return EpsSignatureVerdict(EpsSignatureStatus.UNSIGNED, "empty SignatureValue", signature_method=method)
    if not signature.certificates:
        return EpsSignatureVerdict(EpsSignatureStatus.UNSIGNED, "no X509Certificate", signature_method=method)
    try:
        leaf, *others = [x509.load_der_x509_certificate(der) for der in signature.certificates]
        public_key = leaf.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise MalformedSignatureError("X509Certificate", f"not a usable DER certificate: {exc}") from exc

    def verdict(status: EpsSignatureStatus, detail: str) -> EpsSignatureVerdict:
        return EpsSignatureVerdict(
            status, detail, leaf.subject.rfc4514_string(), leaf.issuer.rfc4514_string(), signature_method=method
        )

    if not signature_value_verifies(signature, public_key):
        return verdict(EpsSignatureStatus.INVALID, "SignatureValue does not verify over SignedInfo")
    mismatch, digest_note = _digest_check(signature, signatures[0], bundle)
    if mismatch:
        return verdict(EpsSignatureStatus.INVALID, digest_note)
    chain = chain_to_anchor(leaf, others, anchors, at=now)
    if not chain.trusted:
        return verdict(EpsSignatureStatus.UNTRUSTED, f"{chain.detail}; {digest_note}")
    return verdict(EpsSignatureStatus.VERIFIED, f"{chain.detail}; {digest_note}")


def _digest_check(
    signature: XmlSignature, signed: Mapping[str, Any], bundle: Mapping[str, Any] | None
) -> tuple[bool, str]:
    """(refused, what was found) for the Reference digest against the fragments rebuilt from `bundle`."""
    if bundle is None:
        return False, "digest not checked: no message given"
    if _event(bundle) != PRESCRIPTION_ORDER:
        return False, "digest not checked: EPS signs prescription-order messages only"
    try:
        fragments = fragments_to_be_hashed(bundle, author_time=signed.get("when"))
    except FragmentError as exc:
        return True, f"the signed fragments cannot be rebuilt from this message as EPS does ({exc})"
    if not digest_matches(signature, fragments):
        return True, "the signed digest is not this prescription's (signed for another prescription, or changed since)"
    return False, "digest matches the prescription"


def _event(bundle: Mapping[str, Any]) -> object:
    entries = bundle.get("entry")
    first = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], Mapping) else {}
    header = first.get("resource")
    if not isinstance(header, Mapping) or header.get("resourceType") != "MessageHeader":
        return None
    coding = header.get("eventCoding")
    return coding.get("code") if isinstance(coding, Mapping) else None
