"""The push relay: claim due orders of push providers, POST each signed bundle, record the attempts, apply the answers.

One round (`PushRelay.run_once`) claims, per push provider whose endpoint's breaker allows it, up to `batch`
deliverable orders in one transaction and a constant number of statements (`pull_batch.lease`, the claim
`Task/$release` makes: fencing token bumped, per-prescription order kept, `FOR UPDATE SKIP LOCKED` on PostgreSQL),
then sends them concurrently, at most `concurrency` at once per provider, each provider over its own pool of
kept-alive connections (`gateway.delivery.pools`), and finishes the whole round in one transaction
(`gateway.delivery.push_finish`). Finishing is fenced: an attempt changes the order only while the order is still
leased under the token the attempt claimed, so a worker that lost its lease (it stalled past the lease and another
worker took over) records what it saw and changes nothing. A worker killed mid-attempt leaves a lease that runs
out; the order is then sent again with the same MessageHeader.id, which receivers deduplicate on.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import audit
from gateway.context import Gateway
from gateway.delivery.attempt_labels import attempt_outcome
from gateway.delivery.bounded import each_bounded
from gateway.delivery.breaker import BreakerBoard, TrialGrants, through_breaker
from gateway.delivery.errors import DeliveryError
from gateway.delivery.policy import GiveUp
from gateway.delivery.pools import ProviderPools
from gateway.delivery.push_finish import Attempt, finish_attempts
from gateway.delivery.push_jobs import PushConfig, PushJob, PushResult, policy_for
from gateway.delivery.tls import ProviderTls
from gateway.delivery.transport import ProviderAnswer, post_bundle
from gateway.logs import log
from gateway.security.guarded_transport import GuardedTransport
from gateway.store import provider_rows, pull_batch
from gateway.store.sealed import message_context
from gateway.store.tables import Provider

logger = logging.getLogger("gateway.delivery.push")

__all__ = ["PushConfig", "PushJob", "PushRelay", "PushResult", "policy_for"]


class PushRelay:
    """Delivers push orders. One relay per process; its workers share its connection pools and breakers."""

    def __init__(
        self,
        gw: Gateway,
        pools: ProviderPools,
        *,
        config: PushConfig | None = None,
        breakers: BreakerBoard | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.gw = gw
        self.pools = pools
        self.config = config or PushConfig()
        self.breakers = breakers or BreakerBoard(clock=lambda: gw.clock())
        gw.telemetry.watch_breakers(self.breakers)
        self.rng = rng or random.SystemRandom()
        self._slots: dict[str, asyncio.Semaphore] = {}

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
        """A relay with its own connection pools (one per provider, under the gateway's outbound policy), closed
        on exit."""
        config = config or PushConfig()
        injected = None if isinstance(gw.http_transport, GuardedTransport) else gw.http_transport
        pools = ProviderPools(
            ProviderTls(gw.settings.provider_tls_dir), gw.outbound, gw.resolver, connections=config.concurrency,
            shared=injected,
        )
        try:
            yield cls(gw, pools, config=config, breakers=breakers, rng=rng)
        finally:
            await pools.aclose()

    async def run_once(self) -> list[PushResult]:
        """Claim what is due and deliver it; the results, empty when there was nothing to do."""
        jobs = await self.claim()
        sent = await each_bounded(self._slots_for, jobs, self._send, _attempt_failed)
        return await self._finish_batch([(job, *outcome) for job, outcome in sent])

    def _slots_for(self, job: PushJob) -> asyncio.Semaphore:
        """The provider's bound on requests in flight (its pool has as many connections)."""
        slots = self._slots.get(job.provider_ods)
        if slots is None:
            slots = self._slots[job.provider_ods] = asyncio.Semaphore(self.config.concurrency)
        return slots

    async def claim(self) -> list[PushJob]:
        """Lease due orders of every push provider whose endpoint's breaker lets requests through: a constant number
        of statements per provider, and one audit record per provider naming every order leased (sending an order
        is an export of patient data, audited like a pull release)."""
        now = self.gw.clock()
        jobs: list[PushJob] = []
        trials = TrialGrants(self.breakers)
        try:
            async with self.gw.sessions() as session, session.begin():
                for provider in await provider_rows.push_providers(session):
                    endpoint = provider.endpoint or ""
                    allowed = trials.permits(endpoint, self.config.batch)
                    if not allowed:
                        continue
                    jobs += await self._claim_from(session, provider, endpoint, allowed, now)
        except BaseException:
            trials.release()  # rolled back: no trial request will be made
            raise
        trials.release(used={job.endpoint for job in jobs})
        return jobs

    async def _claim_from(
        self, session: AsyncSession, provider: Provider, endpoint: str, limit: int, now: datetime
    ) -> list[PushJob]:
        leased = await pull_batch.lease(
            session,
            provider_ods=provider.ods,
            now=now,
            lease_until=now + self.config.lease,
            limit=limit,
            short_form_id=None,
            skip_locked=not self.gw.is_sqlite,
            attempt_kind="push",
        )
        if not leased:
            return []
        stored = await pull_batch.stored_orders(session, [x.message_id for x in leased])
        policy = policy_for(provider, self.config.default_policy)
        jobs = []
        for x in leased:
            order = stored[x.message_id]
            body = self.gw.cipher.open(order.body_enc, context=message_context(x.message_id, order.sender_ods))
            jobs.append(
                PushJob(
                    outbox_id=x.outbox_id,
                    message_id=x.message_id,
                    provider_ods=provider.ods,
                    endpoint=endpoint,
                    lease_token=x.lease_token,
                    attempt=x.attempts,
                    queued_at=x.queued_at,
                    policy=policy,
                    body=body,
                )
            )
        await audit.append_many(
            session,
            self.gw.clock,
            audit.Entry.batch(
                audit.SYSTEM, "order.release", "message", [x.message_id for x in leased], "success",
                {"via": "push", "provider": provider.ods},
            ),
        )
        return jobs

    async def deliver(self, job: PushJob) -> PushResult:
        """Send one claimed order and finish the attempt; never raises for a provider's failure."""
        answer, give_up = await self._send(job)
        return (await self._finish_each([(job, answer, give_up)]))[0]

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
                self.pools.client_for(job.provider_ods),
                job.endpoint,
                job.message_id,
                job.body,
                timeout=self.config.timeout,
            ),
        )
        self.gw.telemetry.metrics.push_attempt(job.provider_ods, attempt_outcome(answer), time.perf_counter() - started)
        return answer, None

    async def _finish_batch(self, sent: Sequence[Attempt]) -> list[PushResult]:
        """Finish a round's attempts in one transaction (one commit, one WAL flush, a constant number of statements).
        If that transaction fails, each attempt is finished on its own, so one bad order cannot hold the others
        back; an attempt that cannot be finished at all keeps its lease, which runs out."""
        if len(sent) > 1:
            try:
                return await self._finish(sent)
            except Exception as exc:  # noqa: BLE001 - retried one by one below
                log(logger, logging.WARNING, "finishing a round together failed", error=type(exc).__name__)
        return await self._finish_each(sent)

    async def _finish_each(self, sent: Sequence[Attempt]) -> list[PushResult]:
        finished = []
        for attempt in sent:
            try:
                finished += await self._finish([attempt])
            except Exception as exc:  # noqa: BLE001 - most likely the store is down: the lease runs out
                _attempt_failed(attempt[0], exc)
        return finished

    async def _finish(self, sent: Sequence[Attempt]) -> list[PushResult]:
        now = self.gw.clock()
        async with self.gw.sessions() as session, session.begin():
            results = await finish_attempts(
                session, self.gw, sent, now=now, async_wait=self.config.async_wait, rng=self.rng
            )
        for (job, _, _), result in zip(sent, results, strict=True):
            self._finished(job, result, now)
        return results

    def _finished(self, job: PushJob, result: PushResult, now: datetime) -> None:
        """Log and count an attempt once its transaction committed."""
        log(
            logger, logging.WARNING if result.outcome in ("dead", "stale") else logging.INFO, "push attempt finished",
            message_id=job.message_id, provider=job.provider_ods, attempt=job.attempt, outcome=result.outcome,
        )
        self.gw.telemetry.metrics.push_finished(job.provider_ods, result.outcome, job.queued_at, now)


def _attempt_failed(job: PushJob, exc: BaseException) -> None:
    log(logger, logging.ERROR, "push attempt failed", message_id=job.message_id, error=type(exc).__name__)
