"""Dispense notifications from providers (EPS shape): full, partial, owing, not dispensed, several products for one
line item, and the amendment of the latest notification (MessageHeader extension replacementOf).

A notification sets the status of the line items it names; the prescription's status is then settled from every
notification that still counts and the deliveries made (`lifecycle.settle`). An amendment takes the place of the
notification it replaces, whose effect no longer counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gateway import audit
from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.domain.principal import UPDATE, Principal, Role, require_role
from gateway.errors import ConflictError, NotFoundError
from gateway.fhir.dispense_notice import DispensedLine, Notice, read_dispenses, read_notice
from gateway.fhir.inbound import MessageHeaderInfo
from gateway.lifecycle.supply import ACTIVE, Change, active_lines, flush_or_conflict, resettle, settle_lines
from gateway.store import prescription_rows, repository
from gateway.store.inbound_messages import sealed_inbound
from gateway.store.tables import DispenseRecord, FhirMessage, LifecycleEvent, Prescription, PrescriptionItem

__all__ = ["DispensedLine", "latest_named", "read_dispenses", "record_dispense"]


def names(record: DispenseRecord, reference: str) -> bool:
    """Whether `reference` (a MessageHeader id, Bundle.id or Bundle.identifier) names this notification."""
    return reference in (record.id, record.bundle_id, record.bundle_identifier)


def latest_named(records: Sequence[DispenseRecord], reference: str | None, what: str) -> DispenseRecord:
    """The latest notification that still counts, which `reference` (when given) must name: EPS amends and
    withdraws only the latest."""
    active = [r for r in records if r.state == ACTIVE]
    if reference is not None and not any(names(r, reference) for r in records):
        raise NotFoundError(f"dispense notification {reference} not found")
    if not active:
        raise ConflictError(f"there is no dispense notification left to {what}")
    latest = active[-1]
    if reference is not None and not names(latest, reference):
        raise ConflictError(f"only the latest dispense notification ({latest.id}) can be {what}ed, not {reference}")
    return latest


async def record_dispense(
    gw: Gateway,
    principal: Principal,
    header: MessageHeaderInfo,
    resources: list[dict[str, Any]],
    raw: bytes,
    *,
    full_urls: list[str | None] | None = None,
) -> bool:
    """Apply a dispense notification. Returns False when it was a resend of one already applied."""
    require_role(principal, Role.PROVIDER, scopes=UPDATE)
    provider_ods = principal.ods
    notice = read_notice(resources, full_urls, json.loads(raw))
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        if await repository.get_by_id(session, FhirMessage, header.id) is not None:
            return False
        p = await prescription_rows.find_prescription(session, notice.short_form_id)
        if p is None or p.provider_ods != provider_ods:
            raise NotFoundError(f"prescription {notice.short_form_id} not found")
        items = {i.id: i for i in await prescription_rows.prescription_items(session, p.id)}
        for item_id in notice.lines:
            if item_id not in items:
                raise NotFoundError(f"line item {item_id} of {notice.short_form_id} not found")
        records = await prescription_rows.dispense_records(session, p.id)
        new_lines = {item_id: line.status for item_id, line in notice.lines.items()}
        replaced = None
        if notice.replaces is None:
            change = await resettle(session, p, [*active_lines(records), new_lines])
        else:
            replaced = latest_named(records, notice.replaces, "amend")
            earlier = active_lines([r for r in records if r is not replaced])
            # The amendment must make sense in place of the notification it replaces.
            before = lifecycle.settle(settle_lines(list(items.values())), earlier, p.deliveries_made)
            after = lifecycle.settle(settle_lines(list(items.values())), [*earlier, new_lines], p.deliveries_made)
            lifecycle.check_settled(before.status, before.items, after)
            change = await resettle(session, p, [*earlier, new_lines], correction=True)
            replaced.state, replaced.ended_by, replaced.ended_at = "replaced", header.id, now
            repository.save(session, replaced)
        p.updated_at = now
        repository.save(
            session,
            DispenseRecord(
                id=header.id,
                prescription_id=p.id,
                seq=len(records) + 1,
                bundle_id=notice.bundle_id,
                bundle_identifier=notice.bundle_identifier,
                state=ACTIVE,
                lines=json.dumps(new_lines, sort_keys=True),
                declared_status=notice.declared,
                replaces=replaced.id if replaced else None,
                created_at=now,
            )
        )
        _events(session, p, items, notice, change, header.id, replaced, now)
        await audit.append(
            session,
            gw.clock,
            principal,
            "order.update",
            "message",
            header.id,
            "success",
            {"event": "dispense-notification", "amends": replaced.id if replaced else "none"},
        )
        repository.save(session, sealed_inbound(gw, header.id, header.event, p, provider_ods, p.trust_ods, raw, now))
        await flush_or_conflict(session, f"prescription {p.short_form_id}")
    return True


def _events(
    session: Any,
    p: Prescription,
    items: dict[str, PrescriptionItem],
    notice: Notice,
    change: Change,
    message_id: str,
    replaced: DispenseRecord | None,
    now: Any,
) -> None:
    """One timeline event per line item the notification names (the trust sees each line's outcome)."""
    kind = "dispense-amended" if replaced else "dispensed"
    for n, (item_id, line) in enumerate(notice.lines.items()):
        detail = line.describe(items[item_id].line_no)
        if n == 0 and replaced is not None:
            detail = f"amends dispense notification {replaced.id}: {detail}"
        if n == 0 and notice.declared not in (None, change.after):
            detail += f"; the provider declared {notice.declared}, the line items make it {change.after}"
        repository.save(
            session,
            LifecycleEvent(
                prescription_id=p.id,
                at=now,
                kind=kind,
                status=p.status,
                actor_ods=p.provider_ods,
                message_id=message_id,
                detail=detail,
            )
        )
