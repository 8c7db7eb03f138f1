"""Message signatures: the gateway's ES256 signing keys, signed outbound bundles, verdicts on inbound EPS signatures.

- `keys`: `SigningKeyStore` (files under `<data_dir>/keys/signing/`), rotation, JWKS, the demo-key guard.
- `canonical`: RFC 8785 bytes of a bundle with exact Decimals. `jws`: detached ES256 JWS.
- `bundle`: `sign_bundle` / `verify_bundle` with the gateway's Provenance entry.
- `xmldsig`, `trust`, `eps`: XML-DSig parsing, certificate chains, `inspect_eps_signature`.
- `policy`: reject or flag, from a verdict. `cli`: `hgw keys`.
"""

from gateway.signing.bundle import Verdict, VerdictStatus, sign_bundle, verify_bundle
from gateway.signing.eps import EpsSignatureStatus, EpsSignatureVerdict, inspect_eps_signature
from gateway.signing.exceptions import (
    CanonicalisationError,
    DemoKeyError,
    MalformedSignatureError,
    SignatureError,
    SigningKeyError,
)
from gateway.signing.keys import SigningKey, SigningKeyStore, assert_production_ready
from gateway.signing.policy import SignatureDecision, SignaturePolicy, decide
from gateway.signing.trust_anchors import load_trust_anchors

__all__ = [
    "CanonicalisationError",
    "DemoKeyError",
    "EpsSignatureStatus",
    "EpsSignatureVerdict",
    "MalformedSignatureError",
    "SignatureDecision",
    "SignatureError",
    "SignaturePolicy",
    "SigningKey",
    "SigningKeyError",
    "SigningKeyStore",
    "Verdict",
    "VerdictStatus",
    "assert_production_ready",
    "decide",
    "inspect_eps_signature",
    "load_trust_anchors",
    "sign_bundle",
    "verify_bundle",
]
