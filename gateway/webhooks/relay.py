"""The webhook relay: owe each trust's new lifecycle events to its subscriptions, then POST them, signed, in order.

A provider's subscriptions are owed invoice events (`invoice_events`) when they are recorded, not by dispatch;
claiming and delivering them is the same as for a trust's (their body and event id are the invoice event's).

One round (`WebhookRelay.run_once`):

1. **Dispatch.** For every active subscription (locked, so two workers never dispatch to one at once), insert a
   `webhook_delivery` row for each event of the trust after the subscription's cursor that it wants and is not yet
   owed, then move the cursor up to the status feed's settled horizon (`status_feed.settled_horizon`): below it no
   transaction still in flight can commit an event, so nothing is ever skipped; above it the anti-join finds events
   that commit late.
2. **Claim.** Per subscription whose endpoint's breaker lets requests through, lease due rows (fencing token bumped;
   a prescription's later event waits for its earlier one; `FOR UPDATE SKIP LOCKED` on PostgreSQL).
3. **Deliver.** Render the event (`payload`), sign it (`signature`), POST it (`transport`); finish the attempt only
   while the lease is still held: delivered, queued again after a full-jitter backoff, or dead with the reason, by
   the push `RetryPolicy`. Everything is in the database, so a restart carries on where it stopped; an attempt cut
   off by a crash is sent again when its lease runs out, with the same event id.

A dead letter never adds a timeline event (that event would itself be owed to the webhook).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from gateway.context import Gateway
from gateway.delivery.bounded import each_bounded
from gateway.delivery.breaker import BreakerBoard, TrialGrants, through_breaker
from gateway.delivery.errors import DeliveryError
from gateway.delivery.policy import GiveUp, RetryPolicy, stored_policy
from gateway.errors import ConfigurationError
from gateway.lifecycle.status_feed import SCAN, SETTLE, settled_horizon, status_event
from gateway.logs import log
from gateway.store import lifecycle_events, repository
from gateway.store import webhooks as store
from gateway.store.tables import WebhookDelivery, WebhookSubscription
from gateway.webhooks import invoice_events, payload
from gateway.webhooks.signature import signed_headers
from gateway.webhooks.transport import post_event

logger = logging.getLogger("gateway.webhooks.relay")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    batch: int = 20
    """Most events claimed per subscription per round."""
    concurrency: int = 8
    """Most POSTs in flight per relay."""
    timeout: float = 10.0
    """Seconds a receiver has to answer."""
    lease: timedelta = timedelta(seconds=60)
    """How long a claim holds an event: well over `timeout`."""
    dispatch_batch: int = 500
    """Most events owed to one subscription per round."""
    settle: timedelta = SETTLE
    """See `status_feed.SETTLE`."""
    default_policy: RetryPolicy = RetryPolicy()
    """For subscriptions without their own retry policy."""


@dataclass(frozen=True, slots=True)
class WebhookJob:
    """A claimed event: enough to send it and to finish the attempt under its fencing token."""

    delivery_id: int
    subscription_id: str
    trust_ods: str
    """The subscription owner's ODS code (a provider's when `tenant_kind` is provider)."""
    tenant_kind: str
    url: str
    format: str
    event_id: int
    """The lifecycle event's id (a trust's), or the invoice event's (a provider's)."""
    lease_token: int
    attempt: int
    queued_at: datetime
    policy: RetryPolicy


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What became of one attempt. `outcome`: delivered, retry, dead, stale."""

    subscription_id: str
    event_id: int
    outcome: str
    detail: str | None = None


def subscription_policy(sub: WebhookSubscription, default: RetryPolicy) -> RetryPolicy:
    """The subscription's own policy (`stored_policy`), or `default` (logged) when its values do not make one."""
    try:
        return stored_policy(sub, default)
    except ValueError as exc:
        log(logger, logging.ERROR, "unusable webhook retry policy, using the default", subscription=sub.id,
            error=str(exc))
        return default


def webhook_headers(
    gw: Gateway,
    subscription_id: str,
    fmt: str,
    body: bytes,
    event_id: str,
    now: datetime,
    *,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers of a webhook request: media type, subscription, `extra`, and the signature over `body` at `now`.
    ConfigurationError when the gateway has no signing keys (webhooks are always signed)."""
    if gw.signing is None:
        raise ConfigurationError("webhooks are signed, and this gateway has no signing keys")
    return {
        "Content-Type": payload.MEDIA_TYPES[fmt],
        "X-HGW-Subscription": subscription_id,
        **(extra or {}),
        **signed_headers(body, gw.signing.current(), event_id=event_id, timestamp=int(now.timestamp())),
    }


def event_kinds(sub: WebhookSubscription) -> list[str] | None:
    """The event kinds a subscription wants; None: all of them."""
    if not sub.events:
        return None
    return [kind for kind in sub.events.split(",") if kind]


class WebhookRelay:
    """Delivers webhook events. One relay per process; its workers share its HTTP client and breakers."""

    def __init__(
        self,
        gw: Gateway,
        client: httpx.AsyncClient,
        *,
        config: WebhookConfig | None = None,
        breakers: BreakerBoard | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.gw = gw
        self.client = client
        self.config = config or WebhookConfig()
        self.breakers = breakers or BreakerBoard(clock=lambda: gw.clock())
        self.rng = rng or random.SystemRandom()
        self._slots = asyncio.Semaphore(self.config.concurrency)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        gw: Gateway,
        *,
        config: WebhookConfig | None = None,
        breakers: BreakerBoard | None = None,
        rng: random.Random | None = None,
    ) -> AsyncIterator[WebhookRelay]:
        """A relay with its own HTTP client on `gw.http_transport`, closed on exit."""
        async with httpx.AsyncClient(transport=gw.http_transport, follow_redirects=False) as client:
            yield cls(gw, client, config=config, breakers=breakers, rng=rng)

    async def run_once(self) -> list[WebhookResult]:
        """Dispatch new events, claim what is due and deliver it; the results, empty when there was nothing to do."""
        await self.dispatch()
        jobs = await self.claim()
        return [result for _, result in await each_bounded(self._slots, jobs, self.deliver, _attempt_failed)]

    async def dispatch(self) -> int:
        """Owe every active subscription the new events it wants; how many were owed this round."""
        now = self.gw.clock()
        owed = 0
        async with self.gw.sessions() as session, session.begin():
            for sub in await store.lock_for_dispatch(session, skip_locked=not self.gw.is_sqlite):
                # The horizon first: on PostgreSQL each statement sees what committed before it, so every event at
                # or below a horizon placed now is visible to the query after it, and the cursor never skips one.
                positions = await lifecycle_events.event_positions(session, after=sub.cursor, limit=SCAN)
                horizon = settled_horizon(sub.cursor, positions, now=now, settle=self.config.settle)
                limit = self.config.dispatch_batch
                events = await store.undispatched_events(session, sub, event_kinds(sub), limit=limit)
                for event in events:
                    repository.save(
                        session,
                        WebhookDelivery(
                            subscription_id=sub.id, event_id=event.id or 0, prescription_id=event.prescription_id,
                            state="queued", available_at=now, queued_at=now,
                        )
                    )
                owed += len(events)
                if len(events) == limit:
                    horizon = min(horizon, events[-1].id or 0)
                if horizon > sub.cursor:
                    sub.cursor = horizon
                    repository.save(session, sub)
        return owed

    async def claim(self) -> list[WebhookJob]:
        """Lease due events of every active subscription whose endpoint's breaker lets requests through."""
        now = self.gw.clock()
        jobs: list[WebhookJob] = []
        trials = TrialGrants(self.breakers)
        try:
            async with self.gw.sessions() as session, session.begin():
                for sub in await store.subscriptions(session, active_only=True):
                    allowed = trials.permits(sub.url, self.config.batch)
                    if not allowed:
                        continue
                    rows = await store.claim_deliveries(
                        session, subscription_id=sub.id, now=now, lease_until=now + self.config.lease,
                        limit=allowed, skip_locked=not self.gw.is_sqlite, invoices=sub.tenant_kind == store.PROVIDER,
                    )
                    policy = subscription_policy(sub, self.config.default_policy)
                    jobs.extend(_job(sub, row, policy) for row in rows)
        except BaseException:
            trials.release()
            raise
        trials.release(used={job.url for job in jobs})
        return jobs

    async def deliver(self, job: WebhookJob) -> WebhookResult:
        """Send one claimed event and finish the attempt; never raises for a receiver's failure."""
        breaker = self.breakers(job.url)
        spent = job.policy.exhausted(attempts=job.attempt, age=self.gw.clock() - job.queued_at)
        if spent is not None:
            breaker.release()
            return await self._finish(job, None, spent)
        try:
            body = await self._body(job)
        except BaseException:
            breaker.release()
            raise
        if body is None:
            breaker.release()
            return await self._finish(job, None, "the event is no longer in the store")
        headers = self._headers(job, body)
        answer = await through_breaker(
            breaker, lambda: post_event(self.client, job.url, body, headers, timeout=self.config.timeout)
        )
        return await self._finish(job, answer, None)

    async def _body(self, job: WebhookJob) -> bytes | None:
        if job.tenant_kind == store.PROVIDER:
            async with self.gw.sessions() as session:
                found = await store.invoice_event(session, job.event_id)
            if found is None or found.provider_ods != job.trust_ods:
                return None
            return invoice_events.render(found, base_url=self.gw.settings.public_base_url)
        async with self.gw.sessions() as session:
            rows = await lifecycle_events.trust_events(
                session, trust_ods=job.trust_ods, after=job.event_id - 1, upto=job.event_id, limit=1
            )
        if not rows:
            return None
        event = status_event(*rows[0])
        return payload.render(event, job.format, source=self.gw.settings.public_base_url, destination=job.url)

    def _headers(self, job: WebhookJob, body: bytes) -> dict[str, str]:
        event_id = invoice_events.wire_id(job.event_id) if job.tenant_kind == store.PROVIDER else str(job.event_id)
        return webhook_headers(
            self.gw, job.subscription_id, job.format, body, event_id, self.gw.clock(),
            extra={"Idempotency-Key": event_id, "X-HGW-Attempt": str(job.attempt)},
        )

    async def _finish(self, job: WebhookJob, answer: int | DeliveryError | None, give_up: str | None) -> WebhookResult:
        """Record the attempt's outcome if this worker still holds the lease (the fence)."""
        now = self.gw.clock()
        status_code = answer if isinstance(answer, int) else answer.status_code if answer is not None else None
        values: dict[str, object]
        if isinstance(answer, int):
            values = {"state": "delivered", "delivered_at": now, "last_error": None}
            result = WebhookResult(job.subscription_id, job.event_id, "delivered")
        elif answer is None or give_up is not None:
            reason = give_up or "given up"
            values = {"state": "dead", "last_error": reason[:500]}
            result = WebhookResult(job.subscription_id, job.event_id, "dead", reason)
        else:
            decision = job.policy.decide(answer, attempt=job.attempt, age=now - job.queued_at, rng=self.rng)
            if isinstance(decision, GiveUp):
                values = {"state": "dead", "last_error": decision.reason[:500]}
                result = WebhookResult(job.subscription_id, job.event_id, "dead", decision.reason)
            else:
                values = {"state": "queued", "available_at": decision.at(now), "last_error": answer.reason[:500]}
                result = WebhookResult(job.subscription_id, job.event_id, "retry", answer.reason)
        values.update(last_attempt_at=now, last_status_code=status_code, lease_expires_at=None)
        async with self.gw.sessions() as session, session.begin():
            held = await repository.apply_update(
                session, WebhookDelivery, job.delivery_id, {"state": "leased", "lease_token": job.lease_token}, values
            )
        if not held:
            result = WebhookResult(job.subscription_id, job.event_id, "stale", "the lease was lost")
        log(
            logger, logging.WARNING if result.outcome in ("dead", "stale") else logging.INFO,
            "webhook attempt finished", subscription=job.subscription_id, event_id=job.event_id,
            attempt=job.attempt, outcome=result.outcome,
        )
        return result


def _attempt_failed(job: WebhookJob, exc: BaseException) -> None:
    # most likely the store failed while finishing: the lease runs out
    log(logger, logging.ERROR, "webhook attempt failed", subscription=job.subscription_id, event_id=job.event_id,
        error=type(exc).__name__)


def _job(sub: WebhookSubscription, row: WebhookDelivery, policy: RetryPolicy) -> WebhookJob:
    return WebhookJob(
        delivery_id=row.id or 0,
        subscription_id=sub.id,
        trust_ods=sub.trust_ods,
        tenant_kind=sub.tenant_kind,
        url=sub.url,
        format=sub.format,
        event_id=row.event_id if row.event_id is not None else row.invoice_event_id or 0,
        lease_token=row.lease_token,
        attempt=row.attempts,
        queued_at=row.queued_at,
        policy=policy,
    )
