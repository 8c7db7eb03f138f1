"""Planning AMEND and CANCEL with EPS semantics.

A cancel before the provider has seen the order cancels it at once. Once released, the provider gets one
`prescription-order-update` (cancel) per line item, as EPS cancels one line per message, and the prescription stays
with it, marked for cancellation, until the provider has acknowledged every one of them (each cancels its line).
A dispensed, expired or not-dispensed prescription cannot be cancelled.
An amend is cancel-and-replace: the latest version is cancelled as above and the new version is a new order,
delivered only after the cancel (the outbox keeps messages of one RxNumber in order). A prescription sent as
several EPS prescriptions (parts, `gateway/intake/parts.py`) is cancelled or amended whole: every part, or none
when one of them can no longer be.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.domain import states as lifecycle
from gateway.domain.model import HomecarePrescription
from gateway.errors import InputError, Issue, Location
from gateway.fhir.cancellation import build_cancellations
from gateway.fhir.prescription_order import OrderIds
from gateway.intake.parts import Part, part_note
from gateway.store.prescription_rows import Current
from gateway.store.sealed import prescription_context
from gateway.store.tables import OutboxEntry, Prescription, PrescriptionItem
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER_UPDATE
from gateway.validator.validator import Validator

if TYPE_CHECKING:
    from gateway.intake.outcomes import PrescriptionOutcome
    from gateway.intake.planning import Planner

CANCEL_EVENT = "prescription-order-update"


@dataclass(frozen=True, slots=True)
class Update:
    """A conditional UPDATE: applied only if the row still has `expect`, else the plan is stale."""

    table: type[Any]
    key: Any
    expect: dict[str, Any]
    values: dict[str, Any]


def plan_cancel(pl: Planner, p: HomecarePrescription, outcome: PrescriptionOutcome) -> None:
    """A CANCEL names the current version of an RxNumber the gateway holds, and gives a reason."""
    current = pl.current.get((p.trust_ods, p.rx_number))
    if current is None:
        outcome.issues.append(
            _issue(
                outcome,
                "RxNumber",
                "UNKNOWN_PRESCRIPTION",
                "there is nothing to cancel: the gateway has no prescription with this RxNumber",
                p.rx_number,
                "the RxNumber of a prescription sent earlier",
            )
        )
        return
    if p.rx_version != current.prescription.rx_version:
        outcome.issues.append(
            _issue(
                outcome,
                "RxVersion",
                "VERSION_MISMATCH",
                "a CANCEL names the current version",
                str(p.rx_version),
                str(current.prescription.rx_version),
            )
        )
        return
    result = _cancel(pl, current, p.cancel_reason or "not given", outcome)
    if result is not None:
        outcome.outcome = result
        _quote(outcome, current)


def plan_amend(pl: Planner, p: HomecarePrescription, outcome: PrescriptionOutcome) -> bool:
    """Cancel the version an AMEND replaces; True when the new version may go ahead."""
    current = pl.current.get((p.trust_ods, p.rx_number))
    if current is None:
        outcome.issues.append(
            _issue(
                outcome,
                "RxNumber",
                "UNKNOWN_PRESCRIPTION",
                "an AMEND replaces a prescription sent earlier, and the gateway has none with this RxNumber",
                p.rx_number,
                "the RxNumber of a prescription sent earlier",
            )
        )
        return False
    if p.rx_version <= current.prescription.rx_version:
        outcome.issues.append(
            _issue(
                outcome,
                "RxVersion",
                "VERSION_NOT_INCREASING",
                "an AMEND must raise the version",
                str(p.rx_version),
                f"more than {current.prescription.rx_version}",
            )
        )
        return False
    reason = f"Amended: replaced by version {p.rx_version}"
    return _cancel(pl, current, reason, outcome, amending=True) is not None


def _cancel(
    pl: Planner, current: Current, reason: str, outcome: PrescriptionOutcome, *, amending: bool = False
) -> str | None:
    """Plan the cancellation of `current`, every part of it; its outcome word, or None with the refusal added to
    `outcome` (then no part is touched: the trust's prescription is cancelled whole or not at all)."""
    pending = [part for part in current.parts if not _cancelled_or_cancelling(part)]
    if not pending:
        # The version being replaced is already cancelled, or its cancellation is on its way.
        return "cancelled" if amending else "duplicate"
    for part in pending:
        pr = part.prescription
        if lifecycle.is_final(pr.status):
            outcome.issues.append(
                _issue(
                    outcome,
                    "Action",
                    "PRESCRIPTION_INVALID_STATE_TRANSITION",
                    f"prescription {pr.short_form_id}{part_note(pr.part, pr.parts, pr.rx_number)} is "
                    f"{lifecycle.PRESCRIPTION_STATUS[pr.status]} and cannot be "
                    + ("amended" if amending else "cancelled"),
                    pr.status,
                    "a prescription not yet dispensed",
                )
            )
            return None
    words = {_cancel_part(pl, part, reason) for part in pending}
    return "cancellation-requested" if "cancellation-requested" in words else "cancelled"


def _cancelled_or_cancelling(part: Current) -> bool:
    return part.prescription.status == lifecycle.CANCELLED or part.outbox_event == CANCEL_EVENT


def _cancel_part(pl: Planner, current: Current, reason: str) -> str:
    """Plan the cancellation of one EPS prescription, not final: at once if the provider never took it."""
    box = current.outbox
    # Never taken by the provider: not sent yet, refused, given up on (dead) or already cancelled.
    unseen = (
        box is None
        or box.state in ("rejected", "cancelled", "dead")
        or (box.state == "queued" and box.lease_token == 0)
    )
    if unseen:
        _cancel_now(pl, current, reason)
        return "cancelled"
    assert box is not None  # noqa: S101 - unseen covers None
    _request_cancellation(pl, current, box, reason)
    return "cancellation-requested"


def _cancel_now(pl: Planner, current: Current, reason: str) -> None:
    pr = current.prescription
    note = part_note(pr.part, pr.parts, pr.rx_number)
    pl.rows.updates.append(
        Update(Prescription, pr.id, {"status": pr.status}, {"status": lifecycle.CANCELLED, "updated_at": pl.now})
    )
    for item in current.items:
        lifecycle.check_item_transition(item.status, lifecycle.ITEM_CANCELLED)
        pl.rows.updates.append(
            Update(PrescriptionItem, item.id, {"status": item.status}, {"status": lifecycle.ITEM_CANCELLED})
        )
    box = current.outbox
    if box is not None and box.state == "queued":
        pl.rows.updates.append(
            Update(OutboxEntry, box.id, {"state": "queued", "lease_token": box.lease_token}, {"state": "cancelled"})
        )
    pl.rows.events.append(
        pl.event(
            pr.id,
            "cancelled",
            lifecycle.CANCELLED,
            pr.trust_ods,
            None,
            f"cancelled before the provider saw it: {reason}{note}",
        )
    )


def _request_cancellation(pl: Planner, current: Current, box: OutboxEntry, reason: str) -> None:
    pr = current.prescription
    original = HomecarePrescription.model_validate(
        json.loads(pl.gw.cipher.open(pr.canonical_enc, context=prescription_context(pr.id, pr.trust_ods)))
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
    prescribing = pl.directory.prescribing(original.trust_ods, original.site_code)
    if isinstance(prescribing, list):  # the trust's configuration was removed since the order went out
        raise InputError(prescribing)
    cancellations = build_cancellations(
        original,
        ids,
        reason,
        provider_ods=box.provider_ods,
        source_endpoint=pl.gw.settings.public_base_url,
        prescribing=prescribing,
    )
    validator = Validator.from_package()
    for cancellation in cancellations:
        problems = validator.validate(cancellation, HOMECARE_PRESCRIPTION_ORDER_UPDATE)
        errors = [i for i in problems if i.severity in ("error", "fatal")]
        if errors:  # a mapping fault of ours: refuse rather than send the provider an invalid cancel
            raise InputError(errors)
    message_ids: list[str] = []
    # One message per line item (EPS cancels one line per message), in line order, after the order: the outbox
    # delivers the messages of one order key in order, each once the one before it is acknowledged.
    for cancellation in cancellations:
        bundle = pl.sign(cancellation)
        message_id = bundle["id"]
        message_ids.append(message_id)
        pl.rows.messages.append(pl.message_row(bundle, message_id, CANCEL_EVENT, pr.id, pr.trust_ods, box.provider_ods))
        pl.rows.outbox.append(pl.outbox_row(message_id, pr.id, f"{pr.trust_ods}:{pr.rx_number}", box.provider_ods))
    lines = f" in {len(message_ids)} messages, one per line item" if len(message_ids) > 1 else ""
    pl.rows.events.append(
        pl.event(
            pr.id,
            "cancellation-requested",
            None,
            pr.trust_ods,
            message_ids[0],
            f"with provider {box.provider_ods}: marked for cancellation ({reason}){lines}"
            + part_note(pr.part, pr.parts, pr.rx_number),
        )
    )


def _quote(outcome: PrescriptionOutcome, current: Current) -> None:
    outcome.prescription_id = current.prescription.id
    outcome.short_form_id = current.prescription.short_form_id
    outcome.provider_ods = current.prescription.provider_ods
    if current.others:
        outcome.parts = [
            Part(
                c.prescription.part,
                c.prescription.id,
                c.prescription.short_form_id,
                tuple(i.line_no for i in c.items),
            )
            for c in current.parts
        ]


def _issue(outcome: PrescriptionOutcome, column: str, code: str, message: str, value: str, expected: str) -> Issue:
    line = outcome.lines[0] if outcome.lines else None
    return Issue(
        code=code, message=message, location=Location(line=line, column=column), value=value, expected=expected
    )
