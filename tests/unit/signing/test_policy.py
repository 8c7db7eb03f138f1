"""Reject or flag: the decision for every verdict under both policies."""

from __future__ import annotations

import pytest

from gateway.signing.eps import EpsSignatureStatus, EpsSignatureVerdict
from gateway.signing.policy import SignaturePolicy, decide

S = EpsSignatureStatus


@pytest.mark.parametrize(
    ("status", "policy", "accepted", "flagged"),
    [
        (S.VERIFIED, SignaturePolicy.REJECT, True, False),
        (S.VERIFIED, SignaturePolicy.FLAG, True, False),
        *[(s, SignaturePolicy.REJECT, False, True) for s in (S.UNTRUSTED, S.INVALID, S.UNSIGNED, S.MALFORMED)],
        *[(s, SignaturePolicy.FLAG, True, True) for s in (S.UNTRUSTED, S.INVALID, S.UNSIGNED, S.MALFORMED)],
    ],
)
def test_decision_table(status: S, policy: SignaturePolicy, accepted: bool, flagged: bool) -> None:
    decision = decide(EpsSignatureVerdict(status, "why"), policy)
    assert (decision.accepted, decision.flagged) == (accepted, flagged)
    if flagged:
        assert status.value in decision.reason and "why" in decision.reason


def test_policy_reads_from_configuration_text() -> None:
    assert SignaturePolicy("reject") is SignaturePolicy.REJECT
    with pytest.raises(ValueError):
        SignaturePolicy("ignore")
