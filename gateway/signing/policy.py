"""What to do with an inbound message given the verdict on its EPS signature: a pure decision.

`reject` accepts only a `verified` signature. `flag` accepts every message and flags each whose signature is not
`verified`, so an operator can review it; the verdict is recorded either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.signing.eps import EpsSignatureStatus, EpsSignatureVerdict


class SignaturePolicy(StrEnum):
    REJECT = "reject"
    FLAG = "flag"


@dataclass(frozen=True, slots=True)
class SignatureDecision:
    accepted: bool
    flagged: bool
    reason: str


def decide(verdict: EpsSignatureVerdict, policy: SignaturePolicy) -> SignatureDecision:
    """Accept or reject (and flag) a message from its signature verdict."""
    if verdict.status is EpsSignatureStatus.VERIFIED:
        return SignatureDecision(accepted=True, flagged=False, reason="signature verified")
    reason = f"signature {verdict.status.value}: {verdict.detail}"
    if policy is SignaturePolicy.REJECT:
        return SignatureDecision(accepted=False, flagged=True, reason=reason)
    return SignatureDecision(accepted=True, flagged=True, reason=reason)
