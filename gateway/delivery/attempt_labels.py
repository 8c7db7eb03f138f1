"""The metric outcome of one push attempt: ok, transient, permanent or timeout (a bounded label set)."""

from __future__ import annotations

from gateway.delivery.errors import DeliveryError, PermanentDeliveryError
from gateway.delivery.transport import Answered, AwaitingResponse

_ANSWER = {"ok": "ok", "fatal-error": "permanent", "transient-error": "transient"}


def attempt_outcome(answer: Answered | AwaitingResponse | DeliveryError) -> str:
    """A 202 counts as ok (the provider took the order); a provider's fatal-error as permanent."""
    if isinstance(answer, AwaitingResponse):
        return "ok"
    if isinstance(answer, Answered):
        return _ANSWER.get(answer.code, "transient")
    if answer.outcome == "timeout":
        return "timeout"
    return "permanent" if isinstance(answer, PermanentDeliveryError) else "transient"
