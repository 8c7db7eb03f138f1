"""Planning AMEND and CANCEL with EPS semantics.

A cancel before the provider has seen the order cancels it at once. Once released, the provider gets one
`prescription-order-update` (cancel) per line item, as EPS cancels one line per message, and the prescription stays
with it, marked for cancellation, until the provider has acknowledged every one of them (each cancels its line).
A dispensed, expired or not-dispensed prescription cannot be cancelled.
An amend is cancel-and-replace: the latest version is cancelled as above and the new version is a new order,
delivered only after the cancel (the outbox keeps messages of one RxNumber in order). A prescription sent as
several EPS prescriptions (parts, `gateway/intake/parts.py`) is cancelled or amended whole: every part, or none
when one of them can no longer be. Pure: each plan returns a `Change`, the rows to write (cancellation messages
through `order_writer`), which the planner adds to its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from gateway.domain import states as lifecycle
from gateway.domain.directory import Directory
from gateway.domain.model import HomecarePrescription
from gateway.domain.outbox import OutboxState, check_outbox_transition
from gateway.errors import InputError, Issue, Location
from gateway.fhir.cancellation import build_cancellations
from gateway.fhir.prescription_order import OrderIds
from gateway.intake.order_writer import Addressee, Announcement, OrderWriter, Outgoing
from gateway.intake.parts import part_note
from gateway.intake.rows import Rows, Update, event_row
from gateway.store.prescription_rows import Current
from gateway.store.sealed import prescription_context
from gateway.store.tables import OutboxEntry, Prescription, PrescriptionItem
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER_UPDATE

CANCEL_EVENT = "prescription-order-update"


@dataclass(slots=True)
class Change:
    """What a CANCEL, or the cancellation an AMEND starts with, writes; or why it may not (`refused`: then nothing).

    `outcome` is the trust's answer (cancelled, cancellation-requested, duplicate) and `current` the version it
    names; both None when refused.
    """

    rows: Rows = field(default_factory=Rows)
    refused: list[Issue] = field(default_factory=list)
    outcome: str | None = None
    current: Current | None = None


def plan_cancel(
    p: HomecarePrescription, current: Current | None, writer: OrderWriter, directory: Directory, here: Location
) -> Change:
    """A CANCEL names the current version of an RxNumber the gateway holds (`current`), and gives a reason."""
    if current is None:
        return _refused(
            here,
            "RxNumber",
            "UNKNOWN_PRESCRIPTION",
            "there is nothing to cancel: the gateway has no prescription with this RxNumber",
            p.rx_number,
            "the RxNumber of a prescription sent earlier",
        )
    if p.rx_version != current.prescription.rx_version:
        return _refused(
            here,
            "RxVersion",
            "VERSION_MISMATCH",
            "a CANCEL names the current version",
            str(p.rx_version),
            str(current.prescription.rx_version),
        )
    return _cancel(writer, directory, current, p.cancel_reason or "not given", here)


def plan_amend(
    p: HomecarePrescription, current: Current | None, writer: OrderWriter, directory: Directory, here: Location
) -> Change:
    """The cancellation of the version an AMEND replaces; unless refused, the new version may go ahead."""
    if current is None:
        return _refused(
            here,
            "RxNumber",
            "UNKNOWN_PRESCRIPTION",
            "an AMEND replaces a prescription sent earlier, and the gateway has none with this RxNumber",
            p.rx_number,
            "the RxNumber of a prescription sent earlier",
        )
    if p.rx_version <= current.prescription.rx_version:
        return _refused(
            here,
            "RxVersion",
            "VERSION_NOT_INCREASING",
            "an AMEND must raise the version",
            str(p.rx_version),
            f"more than {current.prescription.rx_version}",
        )
    reason = f"Amended: replaced by version {p.rx_version}"
    return _cancel(writer, directory, current, reason, here, amending=True)


def _cancel(
    writer: OrderWriter, directory: Directory, current: Current, reason: str, here: Location, *, amending: bool = False
) -> Change:
    """The cancellation of `current`, every part of it, or its refusal (then no part is touched: the trust's
    prescription is cancelled whole or not at all)."""
    pending = [part for part in current.parts if not _cancelled_or_cancelling(part)]
    if not pending:
        # The version being replaced is already cancelled, or its cancellation is on its way.
        return Change(outcome="cancelled" if amending else "duplicate", current=current)
    for part in pending:
        pr = part.prescription
        if lifecycle.is_final(pr.status):
            return _refused(
                here,
                "Action",
                "PRESCRIPTION_INVALID_STATE_TRANSITION",
                f"prescription {pr.short_form_id}{part_note(pr.part, pr.parts, pr.rx_number)} is "
                f"{lifecycle.PRESCRIPTION_STATUS[pr.status]} and cannot be " + ("amended" if amending else "cancelled"),
                pr.status,
                "a prescription not yet dispensed",
            )
    change = Change(current=current)
    words = {_cancel_part(change.rows, writer, directory, part, reason) for part in pending}
    change.outcome = "cancellation-requested" if "cancellation-requested" in words else "cancelled"
    return change


def _cancelled_or_cancelling(part: Current) -> bool:
    return part.prescription.status == lifecycle.CANCELLED or part.outbox_event == CANCEL_EVENT


def _cancel_part(rows: Rows, writer: OrderWriter, directory: Directory, current: Current, reason: str) -> str:
    """Add the cancellation of one EPS prescription, not final, to `rows`: at once if the provider never took it."""
    box = current.outbox
    # Never taken by the provider: not sent yet, refused, given up on (dead) or already cancelled.
    unseen = (
        box is None
        or box.state in (OutboxState.REJECTED, OutboxState.CANCELLED, OutboxState.DEAD)
        or (box.state == OutboxState.QUEUED and box.lease_token == 0)
    )
    if unseen:
        _cancel_now(rows, writer, current, reason)
        return "cancelled"
    assert box is not None  # noqa: S101 - unseen covers None
    _request_cancellation(rows, writer, directory, current, box, reason)
    return "cancellation-requested"


def _cancel_now(rows: Rows, writer: OrderWriter, current: Current, reason: str) -> None:
    pr = current.prescription
    note = part_note(pr.part, pr.parts, pr.rx_number)
    rows.updates.append(
        Update(Prescription, pr.id, {"status": pr.status}, {"status": lifecycle.CANCELLED, "updated_at": writer.now})
    )
    for item in current.items:
        lifecycle.check_item_transition(item.status, lifecycle.ITEM_CANCELLED)
        rows.updates.append(
            Update(PrescriptionItem, item.id, {"status": item.status}, {"status": lifecycle.ITEM_CANCELLED})
        )
    box = current.outbox
    if box is not None and box.state == OutboxState.QUEUED:
        cancelled = check_outbox_transition(box.state, OutboxState.CANCELLED, entry=box.message_id)
        rows.updates.append(
            Update(OutboxEntry, box.id, {"state": box.state, "lease_token": box.lease_token}, {"state": cancelled})
        )
    rows.events.append(
        event_row(
            pr.id,
            writer.now,
            "cancelled",
            lifecycle.CANCELLED,
            pr.trust_ods,
            None,
            f"cancelled before the provider saw it: {reason}{note}",
        )
    )


def _request_cancellation(
    rows: Rows, writer: OrderWriter, directory: Directory, current: Current, box: OutboxEntry, reason: str
) -> None:
    pr = current.prescription
    gw = writer.gw
    original = HomecarePrescription.model_validate(
        json.loads(gw.cipher.open(pr.canonical_enc, context=prescription_context(pr.id, pr.trust_ods)))
    )
    ids = OrderIds.new(original)
    ids = OrderIds(
        message_id=ids.message_id,
        bundle_identifier=ids.bundle_identifier,
        prescription_id=pr.id,
        short_form_id=pr.short_form_id,
        item_ids={i.line_no: i.id for i in current.items},
        patient_id=ids.patient_id,
        practitioner_id=ids.practitioner_id,
        practitioner_role_id=ids.practitioner_role_id,
        organization_id=ids.organization_id,
    )
    prescribing = directory.prescribing(original.trust_ods, original.site_code)
    if isinstance(prescribing, list):  # the trust's configuration was removed since the order went out
        raise InputError(prescribing)
    cancellations = build_cancellations(
        original,
        ids,
        reason,
        provider_ods=box.provider_ods,
        source_endpoint=gw.settings.public_base_url,
        prescribing=prescribing,
    )
    # One message per line item (EPS cancels one line per message), in line order, after the order: the outbox
    # delivers the messages of one order key in order, each once the one before it is acknowledged.
    lines = f" in {len(cancellations)} messages, one per line item" if len(cancellations) > 1 else ""
    announcement = Announcement(
        "cancellation-requested",
        None,
        pr.trust_ods,
        f"with provider {box.provider_ods}: marked for cancellation ({reason}){lines}"
        + part_note(pr.part, pr.parts, pr.rx_number),
    )
    errors = writer.write(
        rows,
        [Outgoing(bundle, bundle["id"], CANCEL_EVENT) for bundle in cancellations],
        Addressee(pr.id, pr.trust_ods, pr.rx_number, box.provider_ods),
        announcement,
        profile=HOMECARE_PRESCRIPTION_ORDER_UPDATE,
    )
    if errors:  # a mapping fault of ours: refuse rather than send the provider an invalid cancel
        raise InputError(errors)


def _refused(here: Location, column: str, code: str, message: str, value: str, expected: str) -> Change:
    where = Location(line=here.line, column=column)
    return Change(refused=[Issue(code=code, message=message, location=where, value=value, expected=expected)])
