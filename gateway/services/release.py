"""Pull delivery: a provider leases its waiting orders with `Task/$release` and acknowledges each one."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import audit, lifecycle
from gateway.fhir.serialise import loads_bundle
from gateway.security.principal import RELEASE, UPDATE, Principal, Role, require_role, require_same_tenant
from gateway.services.context import Gateway
from gateway.store import repository
from gateway.store.sealed import message_context
from gateway.store.tables import FhirMessage, LifecycleEvent, OutboxEntry, Prescription, PrescriptionItem, Provider


@dataclass(frozen=True, slots=True)
class ReleasedOrder:
    message_id: str
    short_form_id: str
    lease_token: int
    bundle: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    orders: list[ReleasedOrder]
    lease_expires_at: datetime


# A long-poll looks at the store this often even without a wake-up: orders queued by another process, leases
# that ran out, and retries that came due are seen within this.
FALLBACK_POLL_SECONDS = 1.0


async def release_orders(
    gw: Gateway,
    principal: Principal,
    *,
    owner_ods: str | None = None,
    short_form_id: str | None = None,
    max_count: int | None = None,
    wait_seconds: float = 0,
) -> ReleaseResult:
    """Lease up to `max_count` of the calling provider's deliverable orders for the visibility timeout.

    With `wait_seconds` (capped at `release_max_wait`) and nothing to lease, hold the request until an order
    arrives or the wait is over (a long-poll); an empty answer after the wait is the ordinary empty result.
    No transaction is open while it waits.
    """
    require_role(principal, Role.PROVIDER, scopes=RELEASE)
    if owner_ods is not None:
        require_same_tenant(principal, owner_ods, "the owner parameter")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, min(wait_seconds, gw.settings.release_max_wait))
    with gw.outbox_signal.listen(principal.ods) as arrived:
        while True:
            arrived.clear()
            result = await _claim(gw, principal, short_form_id, max_count)
            remaining = deadline - loop.time()
            if result.orders or remaining <= 0:
                return result
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), timeout=min(remaining, FALLBACK_POLL_SECONDS))


async def _claim(gw: Gateway, principal: Principal, short_form_id: str | None, max_count: int | None) -> ReleaseResult:
    provider_ods = principal.ods
    now = gw.clock()
    until = now + timedelta(seconds=gw.settings.lease_seconds)
    limit = min(max_count or gw.settings.release_max, gw.settings.release_max)
    async with gw.sessions() as session, session.begin():
        await repository.touch_provider_poll(session, provider_ods, now)
        provider = await session.get(Provider, provider_ods)
        if provider is not None and (provider.paused or not provider.active):
            return ReleaseResult([], until)  # held by an operator (or switched off): the orders stay queued
        entries = await repository.claim_orders(
            session,
            provider_ods=provider_ods,
            now=now,
            lease_until=until,
            limit=limit,
            short_form_id=short_form_id,
            skip_locked=not gw.is_sqlite,
        )
        messages = await repository.get_messages(session, [e.message_id for e in entries])
        orders = []
        for entry in entries:
            prescription = await repository.get_by_id(session, Prescription, entry.prescription_id)
            message = messages[entry.message_id]
            body = gw.cipher.open(message.body_enc, context=message_context(message.id, message.sender_ods))
            orders.append(
                ReleasedOrder(entry.message_id, prescription.short_form_id, entry.lease_token, loads_bundle(body))
            )
            await audit.append(session, gw.clock, principal, "order.release", "message", entry.message_id, "success")
            session.add(
                LifecycleEvent(
                    prescription_id=entry.prescription_id,
                    at=now,
                    kind="released",
                    actor_ods=provider_ods,
                    message_id=entry.message_id,
                    detail=f"lease {entry.lease_token} until {until.isoformat()}",
                )
            )
    gw.telemetry.metrics.released(provider_ods, len(orders))
    return ReleaseResult(orders, until)


# Line items a cancellation still cancels; the others are already complete.
OPEN_ITEM_STATUSES = frozenset(
    {lifecycle.ITEM_TO_BE_DISPENSED, lifecycle.ITEM_WITH_DISPENSER, lifecycle.ITEM_PARTIAL, lifecycle.ITEM_OWING}
)


async def acknowledge(gw: Gateway, principal: Principal, message_id: str, code: str, detail: str | None) -> bool:
    """Apply a provider's response message to the order it answers. False when no such order is the provider's."""
    require_role(principal, Role.PROVIDER, scopes=UPDATE)
    provider_ods = principal.ods
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        entry = await repository.outbox_by_message(session, message_id)
        if entry is None or entry.provider_ods != provider_ods:
            return False
        if entry.state in ("acknowledged", "rejected"):
            return True  # a resend of an acknowledgement changes nothing
        await apply_response(
            session, gw, principal, entry, code, detail, now=now, requeue_at=now + timedelta(seconds=30)
        )
    # An acknowledged order may unblock the next message of its prescription (an amend or cancel).
    gw.outbox_signal.notify([provider_ods])
    gw.telemetry.metrics.acknowledged(provider_ods, code, entry.queued_at or entry.created_at, now)
    return True


async def apply_response(
    session: AsyncSession,
    gw: Gateway,
    actor: audit.Actor,
    entry: OutboxEntry,
    code: str,
    detail: str | None,
    *,
    now: datetime,
    requeue_at: datetime,
) -> str:
    """Apply a response code to an order in the caller's transaction; returns the timeline event kind.

    ok: the prescription goes to 0002 With Dispenser (or, for a cancellation, 0005 Cancelled) with its items;
    transient-error: the order is queued again for `requeue_at`; fatal-error: the order is rejected.
    Pull acknowledgements (`acknowledge`) and push answers (`gateway.delivery.push`) both come here.
    """
    message_id = entry.message_id
    prescription: Prescription = await repository.get_by_id(session, Prescription, entry.prescription_id)
    if code == "transient-error":
        entry.state = "queued"
        entry.available_at = requeue_at
        entry.lease_expires_at = None
        kind = "provider-transient-error"
    elif code == "fatal-error":
        entry.state = "rejected"
        entry.acknowledged_at = now
        kind = "provider-rejected"
    else:
        message = await repository.get_by_id(session, FhirMessage, message_id)
        cancelling = message is not None and message.event == "prescription-order-update"
        target = lifecycle.CANCELLED if cancelling else lifecycle.WITH_DISPENSER
        lifecycle.check_prescription_transition(prescription.status, target)
        entry.state = "acknowledged"
        entry.acknowledged_at = now
        prescription.status = target
        prescription.updated_at = now
        session.add(prescription)
        items: list[PrescriptionItem] = await repository.prescription_items(session, prescription.id)
        for item in items:
            if cancelling and item.status in OPEN_ITEM_STATUSES:
                item.status = lifecycle.ITEM_CANCELLED
            elif not cancelling:
                lifecycle.check_item_transition(item.status, lifecycle.ITEM_WITH_DISPENSER)
                item.status = lifecycle.ITEM_WITH_DISPENSER
            session.add(item)
        kind = "cancelled" if cancelling else "acknowledged"
    session.add(entry)
    await audit.append(
        session, gw.clock, actor, "order.acknowledge", "message", message_id, "success", {"response": code}
    )
    session.add(
        LifecycleEvent(
            prescription_id=prescription.id,
            at=now,
            kind=kind,
            status=prescription.status if kind in ("acknowledged", "cancelled") else None,
            actor_ods=entry.provider_ods,
            message_id=message_id,
            detail=detail,
        )
    )
    return kind
