"""What operators see and set about delivery: the queue, its counts, pausing a provider, its retry policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import audit
from gateway.context import Gateway
from gateway.delivery.policy import RetryPolicy, stored_policy
from gateway.delivery.push import PushConfig, policy_for
from gateway.domain.outbox import STATES as STATES  # `hgw queue list --state` offers them
from gateway.domain.outbox import WAITING
from gateway.errors import InputError, Issue, Location, NotFoundError
from gateway.store import outbox_queue, provider_rows, repository
from gateway.store.supply_tables import ProviderPauseChange
from gateway.store.tables import OutboxEntry, Provider


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One outbox row as operators see it: ids, state and timing, never the message."""

    message_id: str
    prescription_id: str
    provider_ods: str
    state: str
    attempts: int
    available_at: datetime
    lease_expires_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: OutboxEntry) -> QueueRow:
        return cls(
            message_id=row.message_id,
            prescription_id=row.prescription_id,
            provider_ods=row.provider_ods,
            state=row.state,
            attempts=row.attempts,
            available_at=row.available_at,
            lease_expires_at=row.lease_expires_at,
            last_attempt_at=row.last_attempt_at,
            last_error=row.last_error,
            created_at=row.created_at,
        )


async def list_queue(
    gw: Gateway, *, state: str | None = None, provider_ods: str | None = None, limit: int = 100
) -> list[QueueRow]:
    if state is not None and state not in STATES:
        raise _invalid("--state", state, ", ".join(STATES))
    async with gw.sessions() as session:
        rows = await outbox_queue.list_outbox(
            session, states=[state] if state else None, provider_ods=provider_ods, limit=limit
        )
    return [QueueRow.from_row(r) for r in rows]


async def queue_stats(gw: Gateway) -> dict[str, dict[str, object]]:
    """Per provider: how many messages in each state, and since when the oldest still waiting has waited."""
    async with gw.sessions() as session:
        counts = await outbox_queue.outbox_counts(session)
    states: dict[str, dict[str, int]] = {}
    waiting: dict[str, datetime] = {}
    for provider, state, count, oldest in counts:
        states.setdefault(provider, {})[state] = count
        if state in WAITING and oldest is not None:
            waiting[provider] = min(oldest, waiting.get(provider, oldest))
    return {p: {"states": states[p], "oldest_waiting_since": waiting.get(p)} for p in states}


async def set_paused(gw: Gateway, provider_ods: str, paused: bool, *, actor: audit.Actor = audit.SYSTEM) -> Provider:
    """Hold (or resume) push delivery to a provider; its messages wait in the queue meanwhile."""
    async with gw.sessions() as session, session.begin():
        await provider_rows.hold_provider(session, provider_ods, exclusive=True)  # waits for releases in flight
        provider = await _provider(session, provider_ods)
        provider.paused = paused
        repository.save(session, provider)
        repository.save(session, ProviderPauseChange(provider_ods=provider.ods, paused=paused, at=gw.clock()))
        action = "operator.pause" if paused else "operator.resume"
        await audit.append(session, gw.clock, actor, action, "provider", provider.ods, "success")
    return provider


async def set_retry_policy(
    gw: Gateway,
    provider_ods: str,
    *,
    max_attempts: int | None = None,
    max_age: timedelta | None = None,
    base: timedelta | None = None,
    cap: timedelta | None = None,
) -> RetryPolicy:
    """Change a provider's retry policy (what is not given stays); returns the policy now in force."""
    async with gw.sessions() as session, session.begin():
        provider = await _provider(session, provider_ods)
        if max_attempts is not None:
            provider.max_attempts = max_attempts
        if max_age is not None:
            provider.max_age_seconds = int(max_age.total_seconds())
        if base is not None:
            provider.backoff_base_seconds = base.total_seconds()
        if cap is not None:
            provider.backoff_cap_seconds = cap.total_seconds()
        try:
            policy = stored_policy(provider, PushConfig().default_policy)
        except ValueError as exc:
            issue = Issue(
                code="INVALID_VALUE",
                message=f"the retry policy would be unusable: {exc}",
                location=Location(column="--max-attempts, --max-age, --base, --cap"),
                expected="max attempts >= 1, max age > 0, 0 < base <= cap",
            )
            raise InputError([issue]) from exc
        repository.save(session, provider)
        await audit.append(
            session, gw.clock, audit.SYSTEM, "configuration.change", "provider", provider.ods, "success",
            {"change": "retry-policy"},
        )
    return policy


async def retry_policy(gw: Gateway, provider_ods: str) -> RetryPolicy:
    async with gw.sessions() as session:
        return policy_for(await _provider(session, provider_ods), PushConfig().default_policy)


async def _provider(session: AsyncSession, ods: str) -> Provider:
    provider: Provider | None = await repository.get_by_id(session, Provider, ods.strip().upper())
    if provider is None:
        raise NotFoundError(f"provider {ods} is not registered")
    return provider


def _invalid(where: str, value: str, expected: str) -> InputError:
    issue = Issue(
        code="INVALID_VALUE", message="unknown value", location=Location(column=where), value=value, expected=expected
    )
    return InputError([issue])
