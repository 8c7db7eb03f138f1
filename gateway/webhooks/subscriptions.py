"""Managing webhook subscriptions: a trust or a provider manages its own, operators (and the local `hgw` command) any.

A trust subscribes to its lifecycle events; a provider to the decisions trusts record on its invoices
(`invoice-decided`, gateway/webhooks/invoice_events.py), sent as JSON. A subscription is found only by its owner:
another trust or provider asking for it is told it does not exist, exactly as for a missing one. What a request may
ask for (URL, format, events, owner) is checked by gateway/webhooks/subscription_rules.py. A new subscription is owed
the events recorded after it was made.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import audit
from gateway.context import Gateway
from gateway.delivery.errors import DeliveryError
from gateway.domain.principal import Principal, Role, require_role
from gateway.errors import NotFoundError
from gateway.security.outbound import check_url as check_outbound
from gateway.store import repository
from gateway.store import webhooks as store
from gateway.store.tables import WebhookDelivery, WebhookSubscription
from gateway.webhooks import invoice_events, payload
from gateway.webhooks.relay import WebhookConfig, event_kinds, subscription_policy, webhook_headers
from gateway.webhooks.subscription_rules import (
    SubscriptionChange,
    check_events,
    check_format,
    check_policy,
    check_url,
    invalid,
    parse_change,
    tenant_of,
)
from gateway.webhooks.transport import post_event

DELIVERY_STATES = ("queued", "leased", "delivered", "dead")
_MANAGE = ("prescriptions:write", "operations", "orders:update")
_READ = ("prescriptions:read", "operations", "orders:update")
TRUST, PROVIDER = store.TRUST, store.PROVIDER

# The request's shape and checks live in subscription_rules.py; callers know this module as the service.
__all__ = [
    "DELIVERY_STATES",
    "PROVIDER",
    "TRUST",
    "SubscriptionChange",
    "TestResult",
    "add_subscription",
    "check_destination",
    "delivery_json",
    "get_subscription",
    "list_deliveries",
    "list_subscriptions",
    "parse_change",
    "remove_subscription",
    "replay_dead",
    "send_test",
    "subscription_json",
    "update_subscription",
]


@dataclass(frozen=True, slots=True)
class TestResult:
    subscription_id: str
    event_id: str
    outcome: str
    status_code: int | None
    reason: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "subscription_id": self.subscription_id,
            "event_id": self.event_id,
            "outcome": self.outcome,
            "status_code": self.status_code,
            "reason": self.reason,
        }


def subscription_json(sub: WebhookSubscription, gw: Gateway) -> dict[str, Any]:
    """A subscription as the API and the CLI show it."""
    policy = subscription_policy(sub, WebhookConfig().default_policy)
    return {
        "id": sub.id,
        ("provider_ods" if sub.tenant_kind == PROVIDER else "trust_ods"): sub.trust_ods,
        "tenant_kind": sub.tenant_kind,
        "url": sub.url,
        "format": sub.format,
        "events": event_kinds(sub),
        "active": sub.active,
        "created_at": sub.created_at.isoformat(),
        "updated_at": sub.updated_at.isoformat(),
        "retry": {
            "max_attempts": policy.max_attempts,
            "max_age_seconds": int(policy.max_age.total_seconds()),
            "backoff_base_seconds": policy.base.total_seconds(),
            "backoff_cap_seconds": policy.cap.total_seconds(),
        },
        "jwks_url": f"{gw.settings.public_base_url}/.well-known/jwks.json",
    }


def delivery_json(row: WebhookDelivery) -> dict[str, Any]:
    """One event owed to a subscription; an invoice event (a provider's) by its wire id and its invoice."""
    if row.invoice_event_id is not None:
        which: dict[str, Any] = {"event_id": invoice_events.wire_id(row.invoice_event_id),
                                 "invoice_id": row.prescription_id}
    else:
        which = {"event_id": row.event_id, "prescription_id": row.prescription_id}
    return {
        **which,
        "state": row.state,
        "attempts": row.attempts,
        "queued_at": row.queued_at.isoformat(),
        "last_attempt_at": row.last_attempt_at.isoformat() if row.last_attempt_at else None,
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
    }


async def add_subscription(
    gw: Gateway,
    actor: audit.Actor,
    change: SubscriptionChange,
    *,
    max_attempts: int | None = None,
    max_age_seconds: int | None = None,
    backoff_base_seconds: float | None = None,
    backoff_cap_seconds: float | None = None,
) -> WebhookSubscription:
    """A new subscription for the actor's own trust or provider, or the one named (an operator, the CLI)."""
    _may_manage(actor)
    kind, owner = tenant_of(actor, change)
    url = await check_destination(gw, change.url or "")
    fmt = check_format(change.format or "", kind)
    kinds = check_events(change.events, kind)
    now = gw.clock()
    sub = WebhookSubscription(
        id=str(uuid.uuid4()), trust_ods=owner, tenant_kind=kind, url=url, format=fmt,
        events=",".join(kinds) if kinds else None,
        active=True if change.active is None else change.active, created_at=now, updated_at=now,
        max_attempts=max_attempts, max_age_seconds=max_age_seconds,
        backoff_base_seconds=backoff_base_seconds, backoff_cap_seconds=backoff_cap_seconds,
    )
    check_policy(sub)
    async with gw.sessions() as session, session.begin():
        if kind == TRUST:
            sub.cursor = await store.last_event_id(session)
        repository.save(session, sub)
        await audit.append(session, gw.clock, actor, "configuration.change", "webhook", sub.id, "success",
                           {"change": "webhook-add", kind: owner})
    return sub


async def list_subscriptions(
    gw: Gateway, actor: audit.Actor, *, trust_ods: str | None = None, provider_ods: str | None = None
) -> list[WebhookSubscription]:
    """A trust's or a provider's own subscriptions; for operators every one, or the one trust's or provider's
    asked for."""
    _may_read(actor)
    kind: str | None = None
    owner: str | None = None
    if isinstance(actor, Principal) and actor.role in (Role.TRUST, Role.PROVIDER):
        kind, owner = (TRUST if actor.role is Role.TRUST else PROVIDER), actor.ods
    elif trust_ods:
        kind, owner = TRUST, trust_ods.strip().upper()
    elif provider_ods:
        kind, owner = PROVIDER, provider_ods.strip().upper()
    async with gw.sessions() as session:
        return await store.subscriptions(session, trust_ods=owner, tenant_kind=kind)


async def get_subscription(gw: Gateway, actor: audit.Actor, subscription_id: str) -> WebhookSubscription:
    _may_read(actor)
    async with gw.sessions() as session:
        return await _visible(session, actor, subscription_id)


async def update_subscription(
    gw: Gateway, actor: audit.Actor, subscription_id: str, change: SubscriptionChange
) -> WebhookSubscription:
    """Change url, format, events or active; what is not given stays."""
    _may_manage(actor)
    for field, named in (("trust_ods", change.trust_ods), ("provider_ods", change.provider_ods)):
        if named is not None:
            raise invalid("READ_ONLY", field, "a subscription cannot move to another owner", named[:20], None)
    url = await check_destination(gw, change.url) if change.url is not None else None
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        sub = await _visible(session, actor, subscription_id)
        fmt = check_format(change.format, sub.tenant_kind) if change.format is not None else None
        kinds = check_events(change.events, sub.tenant_kind) if change.events is not None else None
        if change.active and not sub.active:
            await store.restart_waiting(session, sub.id, now)  # paused, not aged: waiting events start afresh
        if url is not None:
            sub.url = url
        if fmt is not None:
            sub.format = fmt
        if kinds is not None or change.clear_events:
            sub.events = ",".join(kinds) if kinds else None
        if change.active is not None:
            sub.active = change.active
        sub.updated_at = now
        repository.save(session, sub)
        await audit.append(session, gw.clock, actor, "configuration.change", "webhook", sub.id, "success",
                           {"change": "webhook-update", sub.tenant_kind: sub.trust_ods})
    return sub


async def remove_subscription(gw: Gateway, actor: audit.Actor, subscription_id: str) -> None:
    """Delete a subscription and the events still owed to it."""
    _may_manage(actor)
    async with gw.sessions() as session, session.begin():
        sub = await _visible(session, actor, subscription_id)
        await store.remove_subscription(session, sub.id)
        await audit.append(session, gw.clock, actor, "configuration.change", "webhook", sub.id, "success",
                           {"change": "webhook-remove", sub.tenant_kind: sub.trust_ods})


async def list_deliveries(
    gw: Gateway, actor: audit.Actor, subscription_id: str, *, state: str | None = None, limit: int = 100
) -> list[WebhookDelivery]:
    """The events owed to a subscription, oldest first: where each stands and why the last attempt failed."""
    _may_read(actor)
    if state is not None and state not in DELIVERY_STATES:
        raise invalid("INVALID_VALUE", "state", "unknown delivery state", state[:20], ", ".join(DELIVERY_STATES))
    async with gw.sessions() as session:
        sub = await _visible(session, actor, subscription_id)
        return await store.deliveries(session, sub.id, state=state, limit=limit)


async def replay_dead(gw: Gateway, actor: audit.Actor, subscription_id: str) -> int:
    """Queue a subscription's dead letters again (attempts and age start afresh); how many."""
    _may_manage(actor)
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        sub = await _visible(session, actor, subscription_id)
        count = await store.requeue_dead(session, sub.id, now)
        if count:
            await audit.append(session, gw.clock, actor, "operator.replay", "webhook", sub.id, "success",
                               {"events": count})
    return count


async def send_test(gw: Gateway, actor: audit.Actor, subscription_id: str, *, timeout: float = 10.0) -> TestResult:
    """POST one signed `webhook-test` event now (not queued, not retried) and report the receiver's answer."""
    _may_manage(actor)
    sub = await get_subscription(gw, actor, subscription_id)
    now = gw.clock()
    test_id = f"test-{uuid.uuid4()}"
    body = payload.ping_body(
        sub.format, trust_ods=sub.trust_ods, test_id=test_id, now=now,
        source=gw.settings.public_base_url, destination=sub.url, owner_field=f"{sub.tenant_kind}_ods",
    )
    headers = webhook_headers(gw, sub.id, sub.format, body, test_id, now)
    async with httpx.AsyncClient(transport=gw.http_transport, follow_redirects=False) as client:
        try:
            status = await post_event(client, sub.url, body, headers, timeout=timeout)
        except DeliveryError as exc:
            return TestResult(sub.id, test_id, exc.outcome, exc.status_code, exc.reason)
    return TestResult(sub.id, test_id, "delivered", status, None)


async def check_destination(gw: Gateway, url: str) -> str:
    """`check_url`, then the outbound policy: every address the host resolves to must be allowed."""
    url = check_url(url, mode=gw.settings.mode)
    await check_outbound(gw.outbound, gw.resolver, url, code="INVALID_WEBHOOK_URL", column=None, path="url")
    return url


def _may_manage(actor: audit.Actor) -> None:
    if isinstance(actor, Principal):
        require_role(actor, Role.TRUST, Role.PROVIDER, Role.OPERATOR, scopes=_MANAGE)


def _may_read(actor: audit.Actor) -> None:
    if isinstance(actor, Principal):
        require_role(actor, Role.TRUST, Role.PROVIDER, Role.OPERATOR, scopes=_READ)


async def _visible(session: AsyncSession, actor: audit.Actor, subscription_id: str) -> WebhookSubscription:
    """The subscription if the actor may see it: a trust or provider only its own; else NotFoundError."""
    sub: WebhookSubscription | None = await repository.get_by_id(session, WebhookSubscription, subscription_id)
    if sub is None or (isinstance(actor, Principal) and not _owns(actor, sub)):
        raise NotFoundError(f"webhook subscription {subscription_id[:40]} not found")
    return sub


def _owns(actor: Principal, sub: WebhookSubscription) -> bool:
    if actor.role is Role.OPERATOR:
        return True
    kind = {Role.TRUST: TRUST, Role.PROVIDER: PROVIDER}.get(actor.role)
    return sub.tenant_kind == kind and sub.trust_ods == actor.ods


