"""Why a patient is at risk of a missed dose (docs/patient-safety.md): the stable reason codes, each with the owner
who must act and the action. The supply model decides which applies; the metrics and the console name them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Owner(StrEnum):
    TRUST = "trust"
    PROVIDER = "provider"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    owner: Owner
    action: str


# The stable reason codes, in the order they are reported: the first names the owner and the action.
REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason("cancelled-without-replacement", Owner.TRUST, "confirm the treatment stopped, or prescribe again"),
        Reason("held-unrouted", Owner.OPERATOR, "route the prescription to a provider (add a routing rule)"),
        Reason("dead-lettered", Owner.OPERATOR, "fix the provider connection and replay the dead-lettered order"),
        Reason("provider-paused", Owner.OPERATOR, "resume the provider or re-route its orders"),
        Reason("rejected-by-provider", Owner.TRUST, "correct and re-send the prescription, or send it elsewhere"),
        Reason("provider-unreachable", Owner.PROVIDER, "restore the connection to the gateway and take the orders"),
        Reason("order-not-acknowledged", Owner.PROVIDER, "acknowledge the order"),
        Reason("clinical-query-open", Owner.TRUST, "answer the provider's clinical query"),
        Reason("prescription-renewal-due", Owner.TRUST, "send a new prescription"),
        Reason("delivery-failed", Owner.PROVIDER, "re-arrange the failed delivery before the supply ends"),
        Reason("delivery-not-scheduled", Owner.PROVIDER, "schedule a delivery before the supply ends"),
    )
}
CODES = tuple(REASONS)
