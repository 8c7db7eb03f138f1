"""A round of push attempts finished in one transaction, with set-based SQL: no ORM object per order.

Each attempt is fenced: it changes its order only while the order is still `leased` under the token the attempt
claimed. The round's orders are read with their lease tokens in one statement that locks them (PostgreSQL;
SQLite's `BEGIN IMMEDIATE` serialises writers), so the fence is decided under the lock and holds to the commit. An
attempt whose worker lost the lease (it stalled past it and another worker took the order) is recorded as seen,
with `lease lost`, and changes nothing.

Then each held attempt is applied as the table in docs/delivery.md says: `ok` and `fatal-error` as a pull
acknowledgement is (`acknowledgements.AnswerBatch`, the same code), a transient failure queued again after the
policy's backoff, a permanent one or a spent policy to the dead letters, a 202 left leased for the asynchronous
answer. What is written is a constant number of statements whatever the round's size: the locked read, one read of
the line items, one UPDATE per distinct set of values (every order answered `ok` shares one), and one insert each
of the attempts, the timeline events and the audit records (one per response code naming every order).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import audit
from gateway.context import Gateway
from gateway.delivery.acknowledgements import AnswerBatch
from gateway.delivery.errors import DeliveryError, TransientDeliveryError
from gateway.delivery.policy import GiveUp
from gateway.delivery.push_jobs import PushJob, PushResult
from gateway.delivery.transport import Answered, AwaitingResponse, ProviderAnswer
from gateway.domain.outbox import OutboxState, check_outbox_transition
from gateway.errors import StateTransitionError
from gateway.store import bulk
from gateway.store.pull_batch import AckTarget
from gateway.store.tables import DeliveryAttempt

Attempt = tuple[PushJob, ProviderAnswer | DeliveryError | None, GiveUp | None]
"""A sent (or given up) order: its job, the provider's answer or the error, and why it was not sent."""

LEASE_LOST = "the lease was lost: another worker owns the order"


async def finish_attempts(
    session: AsyncSession,
    gw: Gateway,
    attempts: Sequence[Attempt],
    *,
    now: datetime,
    async_wait: timedelta,
    rng: random.Random,
) -> list[PushResult]:
    """Record and apply `attempts` in the caller's transaction; one result per attempt, in order."""
    batch = await AnswerBatch.read(session, [job.message_id for job, _, _ in attempts], lock=not gw.is_sqlite)
    rows: list[dict[str, Any]] = []
    results: list[PushResult] = []
    for job, answer, give_up in attempts:
        target = batch.targets.get(job.message_id)
        held = target is not None and target.state == OutboxState.LEASED and target.lease_token == job.lease_token
        rows.append(attempt_row(job, answer, give_up, now, held=held))
        if target is None or not held:
            results.append(PushResult(job.message_id, "stale", LEASE_LOST))
            continue
        batch.set_outbox(target.outbox_id, {"last_attempt_at": now})
        results.append(_apply(batch, job, target, answer, give_up, now, async_wait, rng))
    await bulk.insert_rows(session, DeliveryAttempt, rows)
    await batch.write(session, gw, audit.SYSTEM, now)
    return results


def _apply(
    batch: AnswerBatch,
    job: PushJob,
    target: AckTarget,
    answer: ProviderAnswer | DeliveryError | None,
    give_up: GiveUp | None,
    now: datetime,
    async_wait: timedelta,
    rng: random.Random,
) -> PushResult:
    """One held attempt's outcome, applied to the batch."""
    if give_up is not None:
        return _dead(batch, target, give_up.reason, now)
    if isinstance(answer, AwaitingResponse):
        batch.set_outbox(target.outbox_id, {"lease_expires_at": now + async_wait, "last_error": None})
        batch.event(target, "accepted-by-provider", now, "HTTP 202: awaiting the provider's response")
        return PushResult(job.message_id, "awaiting-response")
    if isinstance(answer, Answered) and answer.code != "transient-error":
        error = None if answer.code == "ok" else f"the provider answered {answer.code}"
        try:
            batch.answer(
                target, answer.code, now=now, requeue_at=now, detail=f"push: HTTP {answer.status_code}",
                outbox={"last_error": error},
            )
        except StateTransitionError as exc:
            # The answer no longer fits the prescription (it changed meanwhile): an operator has to look.
            return _dead(batch, target, f"the provider's {answer.code} could not be applied: {exc}", now)
        return PushResult(job.message_id, "delivered" if answer.code == "ok" else "rejected")
    if answer is None:
        raise AssertionError("an attempt without an answer is given up before it is sent")
    failure = answer if isinstance(answer, DeliveryError) else _provider_transient(answer)
    decision = job.policy.decide(failure, attempt=job.attempt, age=now - job.queued_at, rng=rng)
    if isinstance(decision, GiveUp):
        return _dead(batch, target, decision.reason, now)
    retry_at = decision.at(now)
    if isinstance(answer, Answered):  # a transient-error response message: applied like a pull one
        batch.answer(
            target, answer.code, now=now, requeue_at=retry_at, detail=None, outbox={"last_error": failure.reason}
        )
    else:
        target.state = check_outbox_transition(target.state, OutboxState.QUEUED, entry=target.message_id)
        batch.set_outbox(
            target.outbox_id,
            {"state": target.state, "available_at": retry_at, "lease_expires_at": None, "last_error": failure.reason},
        )
    return PushResult(job.message_id, "retry", f"{failure.reason}; next attempt at {retry_at.isoformat()}")


def _provider_transient(answer: Answered) -> TransientDeliveryError:
    reason = "the provider answered transient-error"
    return TransientDeliveryError(reason, outcome="transient-error", status_code=answer.status_code)


def _dead(batch: AnswerBatch, target: AckTarget, reason: str, now: datetime) -> PushResult:
    target.state = check_outbox_transition(target.state, OutboxState.DEAD, entry=target.message_id)
    batch.set_outbox(target.outbox_id, {"state": target.state, "last_error": reason[:500], "lease_expires_at": None})
    batch.event(target, "push-failed", now, reason[:500])
    return PushResult(target.message_id, "dead", reason)


def attempt_row(
    job: PushJob, answer: ProviderAnswer | DeliveryError | None, give_up: GiveUp | None, now: datetime, *, held: bool
) -> dict[str, Any]:
    """The attempt as recorded: outcome, HTTP status and the start of the answer; never the request body."""
    if answer is None:
        outcome, status, excerpt, detail = "not-sent", None, None, give_up.reason if give_up else None
    elif isinstance(answer, DeliveryError):
        outcome, status, excerpt, detail = answer.outcome, answer.status_code, answer.excerpt, answer.reason
    elif isinstance(answer, AwaitingResponse):
        outcome, status, excerpt, detail = "accepted", answer.status_code, answer.excerpt, None
    else:
        outcome, status, excerpt, detail = answer.code, answer.status_code, answer.excerpt, None
    if not held:
        detail = f"{detail + '; ' if detail else ''}lease lost: not applied"
    return {
        "outbox_id": job.outbox_id,
        "at": now,
        "kind": "push",
        "outcome": outcome[:24],
        "detail": detail,
        "lease_token": job.lease_token,
        "status_code": status,
        "response_excerpt": excerpt,
    }
