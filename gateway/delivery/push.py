"""The push relay: claim due orders of push providers, POST each signed bundle, record the attempt, apply the answer.

One round (`PushRelay.run_once`) claims, per push provider whose endpoint's breaker allows it, up to `batch`
deliverable orders with the same lease as `Task/$release` (`outbox_queue.claim_orders`: fencing token bumped,
per-prescription order kept, `FOR UPDATE SKIP LOCKED` on PostgreSQL), then delivers them concurrently. Finishing
an attempt is fenced: it changes the order only while the order is still leased under the token the attempt
claimed, so a worker that lost its lease (it stalled past the lease and another worker took over) records what it
saw and changes nothing. A worker killed mid-attempt leaves a lease that runs out; the order is then sent again
with the same MessageHeader.id, which receivers deduplicate on.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import audit
from gateway.context import Gateway
from gateway.delivery.attempt_labels import attempt_outcome
from gateway.delivery.bounded import each_bounded
from gateway.delivery.breaker import BreakerBoard, TrialGrants, through_breaker
from gateway.delivery.errors import DeliveryError, TransientDeliveryError
from gateway.delivery.policy import GiveUp, RetryPolicy
from gateway.delivery.push_jobs import PushConfig, PushJob, PushResult, policy_for
from gateway.delivery.release import apply_response
from gateway.delivery.tls import ProviderTls
from gateway.delivery.transport import Answered, AwaitingResponse, ProviderAnswer, post_bundle
from gateway.domain.outbox import OutboxState, check_outbox_transition
from gateway.errors import StateTransitionError
from gateway.logs import log
from gateway.store import outbox_queue, provider_rows, repository
from gateway.store.sealed import message_context
from gateway.store.tables import DeliveryAttempt, LifecycleEvent, OutboxEntry

logger = logging.getLogger("gateway.delivery.push")

__all__ = ["PushConfig", "PushJob", "PushRelay", "PushResult", "policy_for"]


class PushRelay:
    """Delivers push orders. One relay per process; its workers share its HTTP client and breakers."""

    def __init__(
        self,
        gw: Gateway,
        client: httpx.AsyncClient,
        *,
        config: PushConfig | None = None,
        breakers: BreakerBoard | None = None,
        rng: random.Random | None = None,
        tls: ProviderTls | None = None,
    ) -> None:
        self.gw = gw
        self.client = client
        self.tls = tls or ProviderTls(gw.settings.provider_tls_dir, gw.outbound, gw.resolver)
        self.config = config or PushConfig()
        self.breakers = breakers or BreakerBoard(clock=lambda: gw.clock())
        gw.telemetry.watch_breakers(self.breakers)
        self.rng = rng or random.SystemRandom()
        self._slots = asyncio.Semaphore(self.config.concurrency)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        gw: Gateway,
        *,
        config: PushConfig | None = None,
        breakers: BreakerBoard | None = None,
        rng: random.Random | None = None,
    ) -> AsyncIterator[PushRelay]:
        """A relay with its own HTTP client on `gw.http_transport`, closed on exit."""
        tls = ProviderTls(gw.settings.provider_tls_dir, gw.outbound, gw.resolver)
        async with httpx.AsyncClient(transport=gw.http_transport, follow_redirects=False) as client:
            try:
                yield cls(gw, client, config=config, breakers=breakers, rng=rng, tls=tls)
            finally:
                await tls.aclose()

    async def run_once(self) -> list[PushResult]:
        """Claim what is due and deliver it; the results, empty when there was nothing to do."""
        jobs = await self.claim()
        sent = await each_bounded(self._slots, jobs, self._send, _attempt_failed)
        return await self._finish_batch([(job, *outcome) for job, outcome in sent])

    async def claim(self) -> list[PushJob]:
        """Lease due orders of every push provider whose endpoint's breaker lets requests through."""
        now = self.gw.clock()
        jobs: list[PushJob] = []
        claimed: list[tuple[OutboxEntry, str, RetryPolicy]] = []
        trials = TrialGrants(self.breakers)
        try:
            async with self.gw.sessions() as session, session.begin():
                for provider in await provider_rows.push_providers(session):
                    endpoint = provider.endpoint or ""
                    allowed = trials.permits(endpoint, self.config.batch)
                    if not allowed:
                        continue
                    entries = await outbox_queue.claim_orders(
                        session,
                        provider_ods=provider.ods,
                        now=now,
                        lease_until=now + self.config.lease,
                        limit=allowed,
                        short_form_id=None,
                        skip_locked=not self.gw.is_sqlite,
                        attempt_kind="push",
                    )
                    policy = policy_for(provider, self.config.default_policy)
                    claimed.extend((entry, endpoint, policy) for entry in entries)
                jobs = await self._jobs(session, claimed)
        except BaseException:
            trials.release()  # rolled back: no trial request will be made
            raise
        trials.release(used={job.endpoint for job in jobs})
        return jobs

    async def _jobs(
        self, session: AsyncSession, claimed: list[tuple[OutboxEntry, str, RetryPolicy]]
    ) -> list[PushJob]:
        """The claimed orders' bodies, read in one query, then their audit records: appended last, because the
        audit chain's lock is held from the first append until the commit and every other writer waits on it."""
        messages = await outbox_queue.get_messages(session, [entry.message_id for entry, _, _ in claimed])
        jobs = []
        for entry, endpoint, policy in claimed:
            message = messages[entry.message_id]
            body = self.gw.cipher.open(message.body_enc, context=message_context(message.id, message.sender_ods))
            jobs.append(
                PushJob(
                    outbox_id=entry.id or 0,
                    message_id=entry.message_id,
                    provider_ods=entry.provider_ods,
                    endpoint=endpoint,
                    lease_token=entry.lease_token,
                    attempt=entry.attempts,
                    queued_at=entry.queued_at or entry.created_at,
                    policy=policy,
                    body=body,
                )
            )
        for job in jobs:  # sending an order is an export of patient data, audited like a pull release
            await audit.append(
                session, self.gw.clock, audit.SYSTEM, "order.release", "message", job.message_id, "success",
                {"via": "push", "provider": job.provider_ods, "attempt": job.attempt},
            )
        return jobs

    async def deliver(self, job: PushJob) -> PushResult:
        """Send one claimed order and finish the attempt; never raises for a provider's failure."""
        return await self._finish(job, *await self._send(job))

    async def _send(self, job: PushJob) -> tuple[ProviderAnswer | DeliveryError | None, GiveUp | None]:
        """POST one claimed order: the provider's answer, or why it was not sent."""
        breaker = self.breakers(job.endpoint)
        spent = job.policy.exhausted(attempts=job.attempt, age=self.gw.clock() - job.queued_at)
        if spent is not None:
            breaker.release()
            return None, GiveUp(spent)
        started = time.perf_counter()
        answer = await through_breaker(
            breaker,
            lambda: post_bundle(
                self.tls.client_for(job.provider_ods) or self.client,
                job.endpoint,
                job.message_id,
                job.body,
                timeout=self.config.timeout,
            ),
        )
        self.gw.telemetry.metrics.push_attempt(job.provider_ods, attempt_outcome(answer), time.perf_counter() - started)
        return answer, None

    async def _finish(
        self, job: PushJob, answer: ProviderAnswer | DeliveryError | None, give_up: GiveUp | None
    ) -> PushResult:
        """Record the attempt and, if this worker still holds the lease, apply its outcome (the fence)."""
        now = self.gw.clock()
        async with self.gw.sessions() as session, session.begin():
            held = await self._fence(session, job, answer, give_up, now)
            result = await self._finish_in(session, job, answer, give_up, now, held=held)
        self._finished(job, result, now)
        return result

    async def _finish_batch(
        self, sent: list[tuple[PushJob, ProviderAnswer | DeliveryError | None, GiveUp | None]]
    ) -> list[PushResult]:
        """Finish a round's attempts in one transaction: one commit (one WAL flush) and one turn at the audit
        chain's lock for the round instead of one per order; that lock serialises every audited transaction of
        every process. If that transaction fails, each attempt is finished on its own, so one bad order cannot
        hold the others back; an attempt that cannot be finished at all keeps its lease, which runs out."""
        if len(sent) > 1:
            now = self.gw.clock()
            try:
                async with self.gw.sessions() as session, session.begin():
                    # Every fenced row update first, the audited work after: this transaction takes its row
                    # locks before the audit chain's lock, as a claim does, so the two cannot deadlock.
                    held = [await self._fence(session, *attempt, now) for attempt in sent]
                    results = [
                        await self._finish_in(session, *attempt, now, held=ok)
                        for attempt, ok in zip(sent, held, strict=True)
                    ]
            except Exception as exc:  # noqa: BLE001 - retried one by one below
                log(logger, logging.WARNING, "finishing a round together failed", error=type(exc).__name__)
            else:
                for (job, _, _), result in zip(sent, results, strict=True):
                    self._finished(job, result, now)
                return results
        finished = []
        for job, answer, give_up in sent:
            try:
                finished.append(await self._finish(job, answer, give_up))
            except Exception as exc:  # noqa: BLE001 - most likely the store is down: the lease runs out
                _attempt_failed(job, exc)
        return finished

    async def _fence(
        self,
        session: AsyncSession,
        job: PushJob,
        answer: ProviderAnswer | DeliveryError | None,
        give_up: GiveUp | None,
        now: datetime,
    ) -> bool:
        """Record the attempt; True if this worker still holds the order's lease under the token it claimed."""
        held = await repository.apply_update(
            session,
            OutboxEntry,
            job.outbox_id,
            {"state": OutboxState.LEASED, "lease_token": job.lease_token},
            {"last_attempt_at": now},
        )
        repository.save(session, _attempt_row(job, answer, give_up, now, held))
        return held

    async def _finish_in(
        self,
        session: AsyncSession,
        job: PushJob,
        answer: ProviderAnswer | DeliveryError | None,
        give_up: GiveUp | None,
        now: datetime,
        *,
        held: bool,
    ) -> PushResult:
        """Apply a fenced attempt's outcome in the caller's transaction; a lost lease changes nothing."""
        if not held:
            return PushResult(job.message_id, "stale", "the lease was lost: another worker owns the order")
        entry: OutboxEntry = await repository.get_by_id(session, OutboxEntry, job.outbox_id)
        return await self._apply(session, job, entry, answer, give_up, now)

    def _finished(self, job: PushJob, result: PushResult, now: datetime) -> None:
        """Log and count an attempt once its transaction committed."""
        log(
            logger, logging.WARNING if result.outcome in ("dead", "stale") else logging.INFO, "push attempt finished",
            message_id=job.message_id, provider=job.provider_ods, attempt=job.attempt, outcome=result.outcome,
        )
        self.gw.telemetry.metrics.push_finished(job.provider_ods, result.outcome, job.queued_at, now)

    async def _apply(
        self,
        session: AsyncSession,
        job: PushJob,
        entry: OutboxEntry,
        answer: ProviderAnswer | DeliveryError | None,
        give_up: GiveUp | None,
        now: datetime,
    ) -> PushResult:
        if give_up is not None:
            return _dead(session, entry, give_up.reason, now)
        if isinstance(answer, AwaitingResponse):
            entry.lease_expires_at = now + self.config.async_wait
            entry.last_error = None
            repository.save(session, entry)
            repository.save(
                session, _event(entry, now, "accepted-by-provider", "HTTP 202: awaiting the provider's response")
            )
            return PushResult(job.message_id, "awaiting-response")
        if isinstance(answer, Answered) and answer.code != "transient-error":
            return await self._answered(session, job, entry, answer, now)
        if answer is None:
            raise AssertionError("an attempt without an answer is given up before it is sent")
        error = answer if isinstance(answer, DeliveryError) else _provider_transient(answer)
        decision = job.policy.decide(error, attempt=job.attempt, age=now - job.queued_at, rng=self.rng)
        if isinstance(decision, GiveUp):
            return _dead(session, entry, decision.reason, now)
        retry_at = decision.at(now)
        entry.last_error = error.reason
        if isinstance(answer, Answered):  # a transient-error response message: applied like a pull one
            await apply_response(session, self.gw, audit.SYSTEM, entry, answer.code, None, now=now, requeue_at=retry_at)
        else:
            entry.state = check_outbox_transition(entry.state, OutboxState.QUEUED, entry=entry.message_id)
            entry.available_at = retry_at
            entry.lease_expires_at = None
            repository.save(session, entry)
        return PushResult(job.message_id, "retry", f"{error.reason}; next attempt at {retry_at.isoformat()}")

    async def _answered(
        self, session: AsyncSession, job: PushJob, entry: OutboxEntry, answer: Answered, now: datetime
    ) -> PushResult:
        """ok or fatal-error: applied as a pull acknowledgement is (`release.apply_response`)."""
        try:
            async with session.begin_nested():
                entry.last_error = None if answer.code == "ok" else f"the provider answered {answer.code}"
                await apply_response(
                    session, self.gw, audit.SYSTEM, entry, answer.code, f"push: HTTP {answer.status_code}",
                    now=now, requeue_at=now,
                )
        except StateTransitionError as exc:
            # The answer no longer fits the prescription (it changed meanwhile): an operator has to look.
            await repository.reload(session, entry)
            return _dead(session, entry, f"the provider's {answer.code} could not be applied: {exc}", now)
        return PushResult(job.message_id, "delivered" if answer.code == "ok" else "rejected")


def _attempt_failed(job: PushJob, exc: BaseException) -> None:
    log(logger, logging.ERROR, "push attempt failed", message_id=job.message_id, error=type(exc).__name__)


def _provider_transient(answer: Answered) -> TransientDeliveryError:
    reason = "the provider answered transient-error"
    return TransientDeliveryError(reason, outcome="transient-error", status_code=answer.status_code)


def _dead(session: AsyncSession, entry: OutboxEntry, reason: str, now: datetime) -> PushResult:
    entry.state = check_outbox_transition(entry.state, OutboxState.DEAD, entry=entry.message_id)
    entry.last_error = reason[:500]
    entry.lease_expires_at = None
    repository.save(session, entry)
    repository.save(session, _event(entry, now, "push-failed", reason[:500]))
    return PushResult(entry.message_id, "dead", reason)


def _event(entry: OutboxEntry, now: datetime, kind: str, detail: str) -> LifecycleEvent:
    return LifecycleEvent(
        prescription_id=entry.prescription_id,
        at=now,
        kind=kind,
        actor_ods=entry.provider_ods,
        message_id=entry.message_id,
        detail=detail,
    )


def _attempt_row(
    job: PushJob, answer: ProviderAnswer | DeliveryError | None, give_up: GiveUp | None, now: datetime, held: bool
) -> DeliveryAttempt:
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
    return DeliveryAttempt(
        outbox_id=job.outbox_id,
        at=now,
        kind="push",
        outcome=outcome[:24],
        detail=detail,
        lease_token=job.lease_token,
        status_code=status,
        response_excerpt=excerpt,
    )
