"""Acknowledgements applied in bulk: many response messages in one transaction, with set-based SQL.

A provider acknowledging N orders one `$process-message` at a time pays N transactions, N commits and N turns
at the audit chain's lock. `apply_acknowledgements` applies any number of them in one transaction with a
constant number of statements; each acknowledgement still gets its own outcome (applied, already applied, not
found, invalid transition) and a refused one changes nothing while the others apply. The single-message path
(`release.acknowledge`) goes through here too, so both behave the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
    async with gw.sessions() as session, session.begin():
        batch = await AnswerBatch.read(
            session, [a.order_message_id for a in acks], lock=not gw.is_sqlite, provider_ods=provider_ods
        )
        for ack in acks:
            target = batch.targets.get(ack.order_message_id)
            if target is None:
                outcomes.append(AckOutcome(False, NotFoundError(f"message {ack.order_message_id} not found")))
                continue
            if target.state in (OutboxState.ACKNOWLEDGED, OutboxState.REJECTED):
                outcomes.append(AckOutcome(False))  # a resend of an acknowledgement changes nothing
                continue
            try:
                batch.answer(target, ack.code, now=now, requeue_at=requeue_at, detail=ack.detail)
            except StateTransitionError as exc:
                outcomes.append(AckOutcome(False, exc))
                continue
            outcomes.append(AckOutcome(True))
        await batch.write(session, gw, principal, now)
    if batch.answered:
        # An acknowledged order may unblock the next message of its prescription (an amend or cancel).
        gw.outbox_signal.notify([provider_ods])
        for target, code in batch.answered:
            gw.telemetry.metrics.acknowledged(provider_ods, code, target.queued_at or target.created_at, now)
    return outcomes


@dataclass
class AnswerBatch:
    """Providers' answers to many orders applied together: the batch's view of the orders, prescriptions and line
    items they move, and the rows they write, a handful of statements whatever the batch's size (`write`).

    Pull acknowledgements (`apply_acknowledgements`) and push answers (`gateway.delivery.push_finish`) both apply
    answers here, so the two move prescriptions the same way.
    """

    targets: dict[str, pull_batch.AckTarget]
    items: dict[str, list[tuple[str, str]]]
    status: dict[str, str]
    item_status: dict[str, str]
    outbox_rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    answered: list[tuple[pull_batch.AckTarget, str]] = field(default_factory=list)

    @classmethod
    async def read(
        cls, session: AsyncSession, message_ids: Sequence[str], *, lock: bool, provider_ods: str | None = None
    ) -> AnswerBatch:
        """The orders named (only `provider_ods`'s, when given), locked with `lock`, and their line items."""
        targets = await pull_batch.ack_targets(session, message_ids, lock=lock)
        if provider_ods is not None:
            targets = {m: t for m, t in targets.items() if t.provider_ods == provider_ods}
        items = {t.prescription_id: t.items for t in targets.values()}
        status = {t.prescription_id: t.prescription_status for t in targets.values()}
        item_status = {item: s for rows in items.values() for item, s in rows}
        return cls(targets, items, status, item_status)

    def answer(
        self,
        target: pull_batch.AckTarget,
        code: str,
        *,
        now: datetime,
        requeue_at: datetime,
        detail: str | None,
        outbox: dict[str, Any] | None = None,
    ) -> None:
        """Apply response `code` to `target` on the batch's view (`response_effect`), with `outbox`'s columns set on
        its row too; raises StateTransitionError having changed nothing."""
        state = check_outbox_transition(target.state, answered(code), entry=target.message_id)
        items = [(item, self.item_status[item]) for item, _ in self.items[target.prescription_id]]
        kind, new_status, new_items = response_effect(
            code, target.event, self.status[target.prescription_id], items, target.message_id
        )
        target.state = state
        # Only the columns that change (`pull_batch.write_acknowledged` groups the rows by the columns they set).
        if state is OutboxState.QUEUED:
            change: dict[str, Any] = {"state": state, "available_at": requeue_at, "lease_expires_at": None}
        else:
            change = {"state": state, "acknowledged_at": now}
        self.set_outbox(target.outbox_id, {**change, **(outbox or {})})
        if new_status is not None:
            self.status[target.prescription_id] = new_status
        self.item_status.update(new_items)
        self.event(target, kind, now, detail, status=new_status)
        self.answered.append((target, code))

    def set_outbox(self, outbox_id: int, change: dict[str, Any]) -> None:
        self.outbox_rows.setdefault(outbox_id, {}).update(change)

    def event(
        self, target: pull_batch.AckTarget, kind: str, now: datetime, detail: str | None, *, status: str | None = None
    ) -> None:
        """A timeline event of the order's prescription, by the order's provider."""
        self.events.append(
            {
                "prescription_id": target.prescription_id,
                "at": now,
                "kind": kind,
                "status": status,
                "actor_ods": target.provider_ods,
                "message_id": target.message_id,
                "detail": detail,
            }
        )

    async def write(self, session: AsyncSession, gw: Gateway, actor: audit.Actor, now: datetime) -> None:
        """Write the batch's changes with one statement (PostgreSQL) whatever its size, the audit records with them."""
        if not self.outbox_rows and not self.events:
            return
        before = {t.prescription_id: t.prescription_status for t in self.targets.values()}
        changed = [(p, s) for p, s in self.status.items() if before.get(p) != s]
        original = {item: s for rows in self.items.values() for item, s in rows}
        changed_items = [(i, s) for i, s in self.item_status.items() if original.get(i) != s]
        # One AuditEvent per response code naming every order that got it, not one per order.
        by_code: dict[str, list[str]] = {}
        for target, code in self.answered:
            by_code.setdefault(code, []).append(target.message_id)
        entries = [
            entry
            for code, ids in by_code.items()
            for entry in audit.Entry.batch(actor, "order.acknowledge", "message", ids, "success", {"response": code})
        ]
        writes = pull_batch.AckWrites(
            list(self.outbox_rows.items()), changed, changed_items, self.events, audit.pending_rows(gw.clock, entries)
        )
        await pull_batch.write_acknowledged(session, writes, now)


def response_effect(
    code: str, event: str | None, prescription_status: str, items: Sequence[tuple[str, str]], message_id: str = ""
) -> tuple[str, str | None, dict[str, str]]:
    """What a provider's response to an order does: the timeline kind, the prescription's new status (None:
    unchanged) and the line items' new statuses ((id, status) pairs in, id -> status out). Pull acknowledgements
    and push answers (`gateway.delivery.push_finish`) both decide here.

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
