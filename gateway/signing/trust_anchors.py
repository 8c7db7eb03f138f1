"""Trust anchors for inbound signatures, and whether a signer's certificate chains to one.

Path building and checking are cryptography's (`x509.verification`, RFC 5280 with the Web PKI rules for CAs:
basic constraints, key usage, validity, no SHA-1 or short RSA keys in the chain). A signing certificate is not a
TLS certificate, so the leaf is held to one rule only: if it has a key usage extension, that allows digital
signatures or non-repudiation (content commitment), as smartcard signing certificates do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from gateway.signing.exceptions import SigningKeyError

MAX_CHAIN_DEPTH = 6


@dataclass(frozen=True, slots=True)
class ChainCheck:
    trusted: bool
    detail: str = ""


def load_trust_anchors(path: Path) -> list[x509.Certificate]:
    """The certificates of a PEM file (one or many): the CAs whose signers the gateway trusts."""
    try:
        anchors = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"not a PEM file of certificates: {exc}", path=path) from exc
    return anchors


def chain_to_anchor(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    *,
    at: datetime,
) -> ChainCheck:
    """Whether `leaf`, helped by `intermediates`, chains to one of `anchors` and every link is valid `at`."""
    if not anchors:
        return ChainCheck(False, "no trust anchors configured")
    ee_policy = ExtensionPolicy.permit_all().may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _signing_usage)
    verifier = (
        PolicyBuilder()
        .store(Store(list(anchors)))
        .time(at)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy)
        .build_client_verifier()
    )
    try:
        verified = verifier.verify(leaf, list(intermediates))
    except VerificationError as exc:
        return ChainCheck(False, f"does not chain to a trust anchor: {exc}")
    anchor = verified.chain[-1]
    return ChainCheck(True, f"chains to {anchor.subject.rfc4514_string()}")


def _signing_usage(_policy: Policy, _cert: x509.Certificate, usage: x509.KeyUsage | None) -> None:
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        raise ValueError("the key usage allows neither digital signatures nor non-repudiation")
