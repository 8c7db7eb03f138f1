"""Acknowledgements applied in bulk: many response messages in one transaction, with set-based SQL.

A provider acknowledging N orders one `$process-message` at a time pays N transactions, N commits and N turns
at the audit chain's lock. `apply_acknowledgements` applies any number of them in one transaction with a
constant number of statements; each acknowledgement still gets its own outcome (applied, already applied, not
found, invalid transition) and a refused one changes nothing while the others apply. The single-message path
(`release.acknowledge`) goes through here too, so both behave the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import audit
from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.domain.outbox import OutboxState, answered, check_outbox_transition
from gateway.domain.principal import UPDATE, Principal, Role, require_role
from gateway.errors import GatewayError, NotFoundError, StateTransitionError
from gateway.fhir.cancellation import cancelled_item
from gateway.store import pull_batch

# Line items a cancellation still cancels; the others are already complete.
OPEN_ITEM_STATUSES = frozenset(
    {lifecycle.ITEM_TO_BE_DISPENSED, lifecycle.ITEM_WITH_DISPENSER, lifecycle.ITEM_PARTIAL, lifecycle.ITEM_OWING}
)
# A transient-error puts the order back in the queue for this long.
REQUEUE_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Ack:
    """One response message: it answers the order whose MessageHeader.id is `order_message_id`."""

    order_message_id: str
    code: str  # ok, transient-error, fatal-error
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class AckOutcome:
    """`applied` is False for a resend that changed nothing; `error` is set when the acknowledgement was refused."""

    applied: bool
    error: GatewayError | None = None


async def apply_acknowledgements(gw: Gateway, principal: Principal, acks: Sequence[Ack]) -> list[AckOutcome]:
    """Apply `acks` (in order) in one transaction; one outcome per acknowledgement, in the same order.

    Exactly once in effect: an order already acknowledged or rejected is left alone (a resend, or the same order
    twice in one batch), and the orders are locked for the transaction on PostgreSQL, so two batches naming the
    same order cannot both apply it. An order of another provider is "not found", as if it did not exist.
    """
    require_role(principal, Role.PROVIDER, scopes=UPDATE)
    provider_ods = principal.ods
    now = gw.clock()
    requeue_at = now + timedelta(seconds=REQUEUE_SECONDS)
    outcomes: list[AckOutcome] = []
    applied: list[tuple[pull_batch.AckTarget, str]] = []
    async with gw.sessions() as session, session.begin():
        targets = await pull_batch.ack_targets(session, [a.order_message_id for a in acks], lock=not gw.is_sqlite)
        mine = {m: t for m, t in targets.items() if t.provider_ods == provider_ods}
        items = {t.prescription_id: t.items for t in mine.values()}
        status = {t.prescription_id: t.prescription_status for t in mine.values()}
        item_status = {item: s for rows in items.values() for item, s in rows}
        outbox_rows: dict[int, dict[str, Any]] = {}
        events: list[dict[str, Any]] = []
        for ack in acks:
            target = mine.get(ack.order_message_id)
            if target is None:
                outcomes.append(AckOutcome(False, NotFoundError(f"message {ack.order_message_id} not found")))
                continue
            if target.state in (OutboxState.ACKNOWLEDGED, OutboxState.REJECTED):
                outcomes.append(AckOutcome(False))  # a resend of an acknowledgement changes nothing
                continue
            try:
                state = check_outbox_transition(target.state, answered(ack.code), entry=target.message_id)
                kind, new_status, new_items = _apply(
                    ack.code, target, status, item_status, [i for i, _ in items[target.prescription_id]]
                )
            except StateTransitionError as exc:
                outcomes.append(AckOutcome(False, exc))
                continue
            # Only the columns that change, so that orders answered alike share one UPDATE.
            target.state = state
            if state is OutboxState.QUEUED:
                change: dict[str, Any] = {"state": state, "available_at": requeue_at, "lease_expires_at": None}
            else:
                change = {"state": state, "acknowledged_at": now}
            outbox_rows.setdefault(target.outbox_id, {}).update(change)
            if new_status is not None:
                status[target.prescription_id] = new_status
            item_status.update(new_items)
            events.append(
                {
                    "prescription_id": target.prescription_id,
                    "at": now,
                    "kind": kind,
                    "status": new_status,
                    "actor_ods": provider_ods,
                    "message_id": target.message_id,
                    "detail": ack.detail,
                }
            )
            applied.append((target, ack.code))
            outcomes.append(AckOutcome(True))
        if applied:
            await _write(session, gw, principal, mine, items, status, item_status, outbox_rows, events, applied, now)
    if applied:
        # An acknowledged order may unblock the next message of its prescription (an amend or cancel).
        gw.outbox_signal.notify([provider_ods])
        for target, code in applied:
            gw.telemetry.metrics.acknowledged(provider_ods, code, target.queued_at or target.created_at, now)
    return outcomes


def _apply(
    code: str, target: pull_batch.AckTarget, status: dict[str, str], item_status: dict[str, str], item_ids: list[str]
) -> tuple[str, str | None, dict[str, str]]:
    """`response_effect` of one acknowledgement on the batch's view of the statuses."""
    items = [(item, item_status[item]) for item in item_ids]
    return response_effect(code, target.event, status[target.prescription_id], items, target.message_id)


def response_effect(
    code: str, event: str | None, prescription_status: str, items: Sequence[tuple[str, str]], message_id: str = ""
) -> tuple[str, str | None, dict[str, str]]:
    """What a provider's response to an order does: the timeline kind, the prescription's new status (None:
    unchanged) and the line items' new statuses ((id, status) pairs in, id -> status out). Pull acknowledgements
    and push answers (`release.apply_response`) both decide here.

    ok: the prescription goes to 0002 With Dispenser with its items. For a cancellation (`event`
    prescription-order-update, one per line item, `message_id` naming its line: `cancellation.cancelled_item`)
    its line goes to 0005 Item cancelled, unless already complete, and the prescription to 0005 Cancelled once
    none of its lines is left open (kind `cancelled`; before that `item-cancelled`, the status unchanged).
    transient-error and fatal-error change the order only. Raises StateTransitionError, having changed nothing.
    """
    if code == "transient-error":
        return "provider-transient-error", None, {}
    if code == "fatal-error":
        return "provider-rejected", None, {}
    if event == "prescription-order-update":
        return _cancellation_effect(prescription_status, items, message_id)
    lifecycle.check_prescription_transition(prescription_status, lifecycle.WITH_DISPENSER)
    new_items: dict[str, str] = {}
    for item, current in items:
        lifecycle.check_item_transition(current, lifecycle.ITEM_WITH_DISPENSER)
        new_items[item] = lifecycle.ITEM_WITH_DISPENSER
    return "acknowledged", lifecycle.WITH_DISPENSER, new_items


def _cancellation_effect(
    prescription_status: str, items: Sequence[tuple[str, str]], message_id: str
) -> tuple[str, str | None, dict[str, str]]:
    """The acknowledgement of the cancellation `message_id`: its line cancelled, the prescription when none is open.

    A message naming none of the lines (a cancellation of every line, as the gateway sent before one per line)
    cancels every open line.
    """
    lifecycle.check_prescription_transition(prescription_status, lifecycle.CANCELLED)
    line = cancelled_item(message_id, [item for item, _ in items])
    new_items = {
        item: lifecycle.ITEM_CANCELLED
        for item, current in items
        if current in OPEN_ITEM_STATUSES and (line is None or item == line)
    }
    if prescription_status == lifecycle.CANCELLED or any(
        new_items.get(item, current) in OPEN_ITEM_STATUSES for item, current in items
    ):
        return "item-cancelled", None, new_items
    return "cancelled", lifecycle.CANCELLED, new_items


async def _write(
    session: AsyncSession,
    gw: Gateway,
    principal: Principal,
    mine: dict[str, pull_batch.AckTarget],
    items: dict[str, list[tuple[str, str]]],
    status: dict[str, str],
    item_status: dict[str, str],
    outbox_rows: dict[int, dict[str, Any]],
    events: list[dict[str, Any]],
    applied: list[tuple[pull_batch.AckTarget, str]],
    now: datetime,
) -> None:
    """Write the batch's changes with one statement (PostgreSQL) whatever its size, the audit records with them."""
    before = {t.prescription_id: t.prescription_status for t in mine.values()}
    changed = [(p, s) for p, s in status.items() if before.get(p) != s]
    original = {item: s for rows in items.values() for item, s in rows}
    changed_items = [(i, s) for i, s in item_status.items() if original.get(i) != s]
    # One AuditEvent per response code naming every order that got it, not one per order.
    by_code: dict[str, list[str]] = {}
    for target, code in applied:
        by_code.setdefault(code, []).append(target.message_id)
    entries = [
        entry
        for code, ids in by_code.items()
        for entry in audit.Entry.batch(principal, "order.acknowledge", "message", ids, "success", {"response": code})
    ]
    audit_rows = audit.pending_rows(gw.clock, entries)
    writes = pull_batch.AckWrites(list(outbox_rows.items()), changed, changed_items, events, audit_rows)
    await pull_batch.write_acknowledged(session, writes, now)
