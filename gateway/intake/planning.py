"""Planning an export: turn parsed prescriptions into the rows to insert, without any I/O.

Pure and synchronous so that it runs in a worker thread for large files; the caller writes the rows in one
transaction (the transactional outbox).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters import ParsedPrescription
from gateway.budget import checkpoint
from gateway.context import Gateway
from gateway.domain import states as lifecycle
from gateway.domain.directory import Directory, Prescribing
from gateway.domain.model import Action, HomecarePrescription
from gateway.domain.routing import Route, Router
from gateway.errors import Issue, Location
from gateway.fhir.dispense_schedule import schedule_issues
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.intake.changes import plan_amend, plan_cancel
from gateway.intake.order_writer import Addressee, OrderWriter, Outgoing, queued
from gateway.intake.outcomes import PrescriptionOutcome
from gateway.intake.parts import Part, part_note, split
from gateway.intake.rows import Rows, event_row
from gateway.store.prescription_rows import Current
from gateway.store.sealed import prescription_context
from gateway.store.supply_history import prescribed
from gateway.store.tables import Prescription
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER

Key = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class Arrived:
    """An EPS bundle as the trust's EPR sent it: its own ids, the bundle, and the prescriber-signature verdict."""

    ids: OrderIds
    bundle: dict[str, Any]
    signature: str


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """What a `Planner` reads besides the gateway: the state read before planning (picklable, for `plan_pool`).
    `existing` maps a prescription's key to the EPS prescriptions stored for it (its parts, in order); `prebuilt`
    maps it to the ids and bundle it arrived as (EPS FHIR); `current`, a trust's RxNumber to its stored version."""

    router: Router
    directory: Directory
    existing: dict[Key, list[Prescription]]
    tenant_ods: str | None
    payload_id: str
    now: datetime
    prebuilt: dict[Key, Arrived] = field(default_factory=dict)
    current: dict[tuple[str, str], Current] = field(default_factory=dict)


@dataclass
class Planner:
    """Plans one export (or a chunk of one) from `inputs`."""

    gw: Gateway
    inputs: PlanInputs
    rows: Rows = field(default_factory=Rows)
    writer: OrderWriter = field(init=False)

    def __post_init__(self) -> None:
        self.writer = OrderWriter(self.gw, self.inputs.now)

    def prescribing(self, p: HomecarePrescription, outcome: PrescriptionOutcome) -> Prescribing | None:
        """What EPS needs that the export does not carry, from the trust's configuration; None after recording
        located errors saying what to configure (and items EPS could not carry as one prescription)."""
        found = self.inputs.directory.prescribing(p.trust_ods, p.site_code)
        problems = schedule_issues(p) + (found if isinstance(found, list) else [])
        for issue in problems:
            outcome.issues.append(located(issue, outcome.lines))
        return None if problems or isinstance(found, list) else found

    def plan(self, parsed: list[ParsedPrescription]) -> tuple[list[PrescriptionOutcome], Rows]:
        outcomes: list[PrescriptionOutcome] = []
        for pp in parsed:
            checkpoint()
            outcome = PrescriptionOutcome(pp.rx_number, pp.rx_version, pp.lines, "rejected", issues=list(pp.issues))
            outcomes.append(outcome)
            if pp.prescription is not None and not pp.errors:
                self.accept(pp.prescription, outcome)
        return outcomes, self.rows

    def accept(self, p: HomecarePrescription, outcome: PrescriptionOutcome) -> None:
        """Map one valid prescription to rows; record why it is rejected, held or a duplicate."""
        here = Location(line=outcome.lines[0] if outcome.lines else None)
        if self.inputs.tenant_ods is not None and p.trust_ods != self.inputs.tenant_ods:
            outcome.issues.append(
                Issue(
                    code="TENANT_MISMATCH",
                    message="TrustODS is not the trust this client acts for",
                    location=Location(line=here.line, column="TrustODS"),
                    value=p.trust_ods,
                    expected=self.inputs.tenant_ods,
                )
            )
            return
        if p.action is Action.CANCEL:
            self._cancel(p, outcome)
            return
        canonical = p.model_dump_json().encode()
        content_sha = hashlib.sha256(canonical).hexdigest()
        stored = self.inputs.existing.get(p.key)
        if stored:
            previous = stored[0]
            if previous.content_sha256 != content_sha:
                outcome.issues.append(
                    Issue(
                        code="VERSION_CONFLICT",
                        message=f"version {p.rx_version} of {p.rx_number} was already received with other content; "
                        "send an AMEND with a higher RxVersion",
                        location=Location(line=here.line, column="RxVersion"),
                        value=str(p.rx_version),
                        expected=f"a version above {p.rx_version}",
                    )
                )
                return
            outcome.outcome = "duplicate"
            outcome.prescription_id = previous.id
            outcome.short_form_id = previous.short_form_id
            outcome.provider_ods = previous.provider_ods
            if len(stored) > 1:
                outcome.parts = [Part(r.part, r.id, r.short_form_id) for r in stored]
            return
        before_amend = self.rows.mark()
        if p.action is Action.AMEND:
            current = self.inputs.current.get((p.trust_ods, p.rx_number))
            change = plan_amend(p, current, self.writer, self.inputs.directory, here)
            if change.refused:
                outcome.issues.extend(change.refused)
                return
            self.rows.extend(change.rows)
        # An AMEND's new version that cannot go out must leave the version it replaces as it was: the cancellation
        # planned above is forgotten by the refusals below.

        prebuilt = self.inputs.prebuilt.get(p.key)
        prescribing: Prescribing | None = None
        if prebuilt is None:
            prescribing = self.prescribing(p, outcome)
            if prescribing is None:
                self.rows.rollback(before_amend)
                return
        route = self.inputs.router.route(p)
        outcome.provider_ods = route.provider_ods
        outcome.reason = route.reason
        # An EPS bundle from the trust's EPR has at most four items (the FHIR adapter refuses more) and goes whole.
        pieces = [p] if prebuilt is not None else split(p)
        planned = [
            _Planned(part, piece, prebuilt.ids if prebuilt else OrderIds.new(piece))
            for part, piece in enumerate(pieces, start=1)
        ]
        for x in planned:
            problems = self._store(x, len(planned), content_sha, route, prescribing, prebuilt)
            if problems:
                # A mapping bug, not the trust's fault; report it located in the bundle rather than queue a bad order.
                outcome.issues.extend(problems)
                outcome.prescription_id = outcome.short_form_id = outcome.provider_ods = outcome.reason = None
                self.rows.rollback(before_amend)
                return
        held = route.provider_ods is None
        outcome.prescription_id = planned[0].ids.prescription_id
        outcome.short_form_id = planned[0].ids.short_form_id
        if len(planned) > 1:
            outcome.parts = [
                Part(
                    x.part,
                    x.ids.prescription_id,
                    x.ids.short_form_id,
                    tuple(i.line_no for i in x.piece.items),
                    None if held else x.ids.message_id,
                )
                for x in planned
            ]
        if not held:
            outcome.message_id = planned[0].ids.message_id
        outcome.outcome = "held" if held else "accepted"

    def _cancel(self, p: HomecarePrescription, outcome: PrescriptionOutcome) -> None:
        here = Location(line=outcome.lines[0] if outcome.lines else None)
        current = self.inputs.current.get((p.trust_ods, p.rx_number))
        change = plan_cancel(p, current, self.writer, self.inputs.directory, here)
        outcome.issues.extend(change.refused)
        self.rows.extend(change.rows)
        if change.outcome is None or change.current is None:
            return
        outcome.outcome = change.outcome
        # The trust's answer names the version cancelled, every part of it.
        current = change.current
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

    def _store(
        self,
        x: _Planned,
        parts: int,
        content_sha: str,
        route: Route,
        prescribing: Prescribing | None,
        prebuilt: Arrived | None,
    ) -> list[Issue]:
        """Add the rows of one planned (part of a) prescription, its order queued unless it is held (no provider
        yet); the located problems of an order that may not go out, else []."""
        p, ids = x.piece, x.ids
        note = part_note(x.part, parts, p.rx_number)
        nhs_number = p.patient.nhs_number if p.patient else ""  # adapters reject a NEW without a patient
        deliveries = max((i.number_of_deliveries for i in p.items), default=0)
        self.rows.prescriptions.append(
            {
                "id": ids.prescription_id,
                "short_form_id": ids.short_form_id,
                "trust_ods": p.trust_ods,
                "rx_number": p.rx_number,
                "rx_version": p.rx_version,
                "part": x.part,
                "parts": parts,
                "action": p.action.value,
                "status": lifecycle.TO_BE_DISPENSED,
                "provider_ods": route.provider_ods,
                "service_type": p.service_type.value if p.service_type else None,
                "route_reason": route.reason,
                "nhs_index": self.gw.cipher.blind_index(nhs_number),
                # Each part keeps its own items (a cancellation is built from them); the fingerprint is the whole
                # prescription's, so that a resend of it is recognised as a duplicate.
                "canonical_enc": self.gw.cipher.seal(
                    p.model_dump_json().encode(), context=prescription_context(ids.prescription_id, p.trust_ods)
                ),
                "content_sha256": content_sha,
                "inbound_id": self.inputs.payload_id,
                "deliveries_authorised": deliveries,
                "deliveries_made": 0,
                "supply_until": None,
                "created_at": self.inputs.now,
                "updated_at": self.inputs.now,
            }
        )
        for item in p.items:
            self.rows.items.append(
                {
                    "id": ids.item_ids[item.line_no],
                    "prescription_id": ids.prescription_id,
                    "line_no": item.line_no,
                    "dmd_code": item.dmd_code,
                    "description": item.description,
                    "quantity": str(item.qty_per_delivery),
                    "quantity_unit": item.qty_unit,
                    "days_per_delivery": item.days_per_delivery,
                    "deliveries_authorised": item.number_of_deliveries,
                    "status": lifecycle.ITEM_TO_BE_DISPENSED,
                }
            )
        self.rows.supply.append(prescribed(ids.prescription_id, p, self.inputs.now))
        received = f"{p.source_format} export {self.inputs.payload_id}{note}"
        self.rows.events.append(
            event_row(
                ids.prescription_id, self.inputs.now, "received", lifecycle.TO_BE_DISPENSED, p.trust_ods, None, received
            )
        )
        if prebuilt:
            self.rows.events.append(
                event_row(
                    ids.prescription_id, self.inputs.now, "prescriber-signature", None, p.trust_ods, ids.message_id,
                    prebuilt.signature,
                )
            )
        if route.provider_ods is None:
            self.rows.events.append(
                event_row(ids.prescription_id, self.inputs.now, "held", None, None, None, f"{route.reason}{note}")
            )
            return []
        if prebuilt is not None:  # an EPS bundle from the trust's EPR goes on as it came: its signature stays valid
            bundle, profile = prebuilt.bundle, None
        else:
            assert prescribing is not None  # noqa: S101 - `accept` plans an export's own order only with it
            bundle = build_prescription_order(
                p, ids, provider_ods=route.provider_ods, source_endpoint=self.gw.settings.public_base_url,
                prescribing=prescribing,
            )
            profile = HOMECARE_PRESCRIPTION_ORDER
        return self.writer.write(
            self.rows,
            [Outgoing(bundle, ids.message_id, "prescription-order")],
            Addressee(ids.prescription_id, p.trust_ods, p.rx_number, route.provider_ods),
            queued(route.provider_ods, route.reason, note),
            profile=profile,
        )


@dataclass(frozen=True, slots=True)
class _Planned:
    """One part of a prescription, planned: its items and its ids."""

    part: int
    piece: HomecarePrescription
    ids: OrderIds


def located(issue: Issue, lines: list[int]) -> Issue:
    """`issue` (located in the canonical prescription: `items[2].qty_unit`, `trust_ods`) with the source line of the
    item it names, else the prescription's first line."""
    line = lines[0] if lines else None
    path = issue.location.path or ""
    if path.startswith("items[") and "]" in path:
        index = int(path[len("items[") : path.index("]")])
        line = lines[index] if index < len(lines) else line
    where = Location(line=line, column=issue.location.column, path=issue.location.path)
    return Issue(issue.code, issue.message, where, issue.severity, issue.value, issue.expected)
