"""Pull delivery: a provider leases its waiting orders with `Task/$release` and acknowledges each one."""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway import audit
from gateway.context import Gateway
from gateway.delivery import acknowledgements
from gateway.domain.principal import RELEASE, Principal, Role, require_role, require_same_tenant
from gateway.errors import NotFoundError
from gateway.fhir.serialise import loads_bundle
from gateway.store import provider_rows, pull_batch
from gateway.store.sealed import message_context


@dataclass(frozen=True, slots=True)
class ReleasedOrder:
    message_id: str
    short_form_id: str
    lease_token: int
    body: bytes  # the stored (signed) message bundle, JSON, as stored
    bundle_id: str

    @property
    def bundle(self) -> dict[str, Any]:
        """The message bundle parsed (the release answer itself splices `body` unparsed)."""
        return loads_bundle(self.body)


# A stored bundle the gateway wrote starts like this; its id (FHIR id syntax) is then read without a parse.
_BUNDLE_START = re.compile(rb'\{"resourceType":"Bundle","id":"([A-Za-z0-9\-.]{1,64})"')


def _bundle_id(body: bytes) -> str:
    """Bundle.id of a stored message: read from the front of the JSON when it has the gateway's form, else parsed."""
    found = _BUNDLE_START.match(body)
    if found is not None:
        return found.group(1).decode("ascii")
    return str(loads_bundle(body).get("id", ""))


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
    await _note_poll(gw, provider_ods, now)
    async with gw.sessions() as session, session.begin():
        # The provider's advisory lock, shared (`provider_rows.hold_provider`), and its flags.
        provider = await provider_rows.release_gate(session, provider_ods)
        if provider is not None and (provider.paused or not provider.active):
            return ReleaseResult([], until)  # held by an operator (or switched off): the orders stay queued
        # A constant number of statements whatever `limit` is: the claim, one fetch of the sealed messages, and
        # one statement writing the attempts, the timeline and one audit record naming every order.
        leased = await pull_batch.lease(
            session,
            provider_ods=provider_ods,
            now=now,
            lease_until=until,
            limit=limit,
            short_form_id=short_form_id,
            skip_locked=not gw.is_sqlite,
        )
        stored = await pull_batch.stored_orders(session, [x.message_id for x in leased])
        orders = []
        for x in leased:
            order = stored[x.message_id]
            body = gw.cipher.open(order.body_enc, context=message_context(x.message_id, order.sender_ods))
            orders.append(ReleasedOrder(x.message_id, order.short_form_id, x.lease_token, body, _bundle_id(body)))
        events = [
            {
                "prescription_id": x.prescription_id,
                "at": now,
                "kind": "released",
                "actor_ods": provider_ods,
                "message_id": x.message_id,
                "detail": f"lease {x.lease_token} until {until.isoformat()}",
            }
            for x in leased
        ]
        # One AuditEvent per release naming every order it leased (per `MAX_ENTITIES`), not one per order.
        entries = audit.Entry.batch(principal, "order.release", "message", [x.message_id for x in leased], "success")
        await pull_batch.write_released(session, events, audit.pending_rows(gw.clock, entries))
    gw.telemetry.metrics.released(provider_ods, len(orders))
    return ReleaseResult(orders, until)


async def _note_poll(gw: Gateway, provider_ods: str, now: datetime) -> None:
    """Record that the provider polled (the console and the silence alert read it), at most once per
    `POLL_TOUCH_SECONDS` from this process: a provider releasing one order at a time does not write its row on
    every request. Its own short transaction: the row lock it takes is not held while orders are leased."""
    last = gw.provider_polls.get(provider_ods)
    if last is not None and now - last < timedelta(seconds=provider_rows.POLL_TOUCH_SECONDS):
        return
    async with gw.sessions() as session, session.begin():
        await provider_rows.touch_provider_poll(session, provider_ods, now)
    gw.provider_polls[provider_ods] = now


async def acknowledge(gw: Gateway, principal: Principal, message_id: str, code: str, detail: str | None) -> bool:
    """Apply a provider's response message to the order it answers. False when no such order is the provider's."""
    ack = acknowledgements.Ack(message_id, code, detail)
    outcome = (await acknowledgements.apply_acknowledgements(gw, principal, [ack]))[0]
    if isinstance(outcome.error, NotFoundError):
        return False
    if outcome.error is not None:
        raise outcome.error
    return True  # applied, or a resend of an acknowledgement that changed nothing
