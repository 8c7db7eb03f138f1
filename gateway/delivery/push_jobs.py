"""What the push relay works with: its settings (`PushConfig`), a claimed order (`PushJob`), what became of one
attempt (`PushResult`), and the retry policy each provider's orders are sent under (`policy_for`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.delivery.policy import RetryPolicy, stored_policy
from gateway.logs import log
from gateway.store.tables import Provider

# The relay's logger: an unusable policy is logged under the same name as the rest of push delivery.
logger = logging.getLogger("gateway.delivery.push")


@dataclass(frozen=True, slots=True)
class PushConfig:
    """How a relay works: batch, concurrency, timeouts, leases and the default retry policy."""

    batch: int = 20
    """Most orders claimed per provider per round."""
    concurrency: int = 8
    """Most POSTs in flight per provider per relay, and the connections its pool keeps to the provider."""
    timeout: float = 10.0
    """Seconds a provider has to answer one POST."""
    lease: timedelta = timedelta(seconds=60)
    """How long a claim holds an order: well over `timeout`, so a live worker never loses its lease."""
    async_wait: timedelta = timedelta(minutes=15)
    """After a 202, how long to wait for the response message before sending the order again."""
    default_policy: RetryPolicy = RetryPolicy()
    """For providers without their own policy."""


@dataclass(frozen=True, slots=True)
class PushJob:
    """A claimed order: enough to send it and to finish the attempt under its fencing token."""

    outbox_id: int
    message_id: str
    provider_ods: str
    endpoint: str
    lease_token: int
    attempt: int
    queued_at: datetime
    policy: RetryPolicy
    body: bytes


@dataclass(frozen=True, slots=True)
class PushResult:
    """What became of one attempt. `outcome`: delivered, rejected, retry, awaiting-response, dead, stale."""

    message_id: str
    outcome: str
    detail: str | None = None


def policy_for(provider: Provider, default: RetryPolicy) -> RetryPolicy:
    """The provider's own policy (`stored_policy`), or `default` (logged) when its values do not make a policy."""
    try:
        return stored_policy(provider, default)
    except ValueError as exc:
        log(logger, logging.ERROR, "unusable retry policy, using the default", provider=provider.ods, error=str(exc))
        return default
