"""Inbound exports: store the raw payload, parse it, and turn each good prescription into a queued order."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from adapters import ParsedPrescription, ParseResult, adapter_for
from gateway import lifecycle
from gateway.domain.model import Action, HomecarePrescription
from gateway.errors import InputError, Issue, Location, StoreError
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.fhir.serialise import dumps_bundle
from gateway.fhir.validation import validate_resource
from gateway.security.principal import Principal, Role, require_role
from gateway.services.context import Gateway
from gateway.services.routing import Router
from gateway.store import repository
from gateway.store.sealed import inbound_context, message_context, prescription_context
from gateway.store.tables import (
    FhirMessage,
    InboundPayload,
    LifecycleEvent,
    OutboxEntry,
    Prescription,
    PrescriptionItem,
)


@dataclass(slots=True)
class PrescriptionOutcome:
    """What happened to one prescription of an export; never carries patient data."""

    rx_number: str
    rx_version: str
    lines: list[int]
    outcome: str  # accepted, duplicate, held, rejected
    prescription_id: str | None = None
    short_form_id: str | None = None
    message_id: str | None = None
    provider_ods: str | None = None
    reason: str | None = None
    issues: list[Issue] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rx_number": self.rx_number,
            "rx_version": self.rx_version,
            "lines": self.lines,
            "outcome": self.outcome,
        }
        for name in ("prescription_id", "short_form_id", "message_id", "provider_ods", "reason"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["issues"] = [i.as_dict() for i in self.issues]
        return out


@dataclass(slots=True)
class IngestReport:
    payload_id: str
    format: str
    outcome: str  # accepted, partially_accepted, rejected
    prescriptions: list[PrescriptionOutcome]
    file_issues: list[Issue]

    def as_dict(self) -> dict[str, Any]:
        return {
            "payload_id": self.payload_id,
            "format": self.format,
            "outcome": self.outcome,
            "file_issues": [i.as_dict() for i in self.file_issues],
            "prescriptions": [p.as_dict() for p in self.prescriptions],
        }


@dataclass(slots=True)
class _Rows:
    prescriptions: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def parse_payload(payload: bytes, content_type: str) -> ParseResult:
    """Parse offline (used by `hgw ingest` as well as the endpoint)."""
    adapter = adapter_for(content_type)
    if adapter is None:
        raise InputError(
            [
                Issue(
                    code="UNSUPPORTED_MEDIA_TYPE",
                    message=f"no adapter accepts Content-Type {content_type!r}",
                    location=Location(path="Content-Type"),
                    value=content_type,
                    expected="text/csv",
                )
            ]
        )
    return adapter.parse(payload)


async def ingest_export(gw: Gateway, principal: Principal, payload: bytes, content_type: str) -> IngestReport:
    """Store `payload`, then accept or reject each prescription in it on its own. Only the caller's trust's
    prescriptions are accepted: the tenant is the token's, whatever TrustODS says."""
    require_role(principal, Role.TRUST)
    tenant_ods = principal.ods
    adapter = adapter_for(content_type)
    payload_id = str(uuid.uuid4())
    now = gw.clock()
    async with gw.sessions() as session, session.begin():
        session.add(
            InboundPayload(
                id=payload_id,
                tenant_ods=tenant_ods,
                format=adapter.name if adapter else "unknown",
                content_type=content_type[:100],
                sha256=hashlib.sha256(payload).hexdigest(),
                size=len(payload),
                body_enc=gw.cipher.seal(payload, context=inbound_context(payload_id, tenant_ods)),
                received_at=now,
            )
        )
    try:
        result = await asyncio.to_thread(parse_payload, payload, content_type)
    except InputError as exc:
        result = ParseResult(format="unknown", file_issues=exc.issues)

    outcomes: list[PrescriptionOutcome] = []
    if not result.file_rejected:
        outcomes = await _store_prescriptions(gw, payload_id, result.prescriptions, tenant_ods, now)
    accepted = sum(o.outcome in ("accepted", "duplicate", "held") for o in outcomes)
    overall = "rejected" if accepted == 0 else "accepted" if accepted == len(outcomes) else "partially_accepted"
    report = IngestReport(payload_id, result.format, overall, outcomes, result.file_issues)
    summary = json.dumps({"outcome": overall, "prescriptions": [o.as_dict() for o in outcomes]})
    async with gw.sessions() as session, session.begin():
        await repository.set_inbound_outcome(session, payload_id, overall, summary)
    return report


async def _store_prescriptions(
    gw: Gateway,
    payload_id: str,
    parsed: list[ParsedPrescription],
    tenant_ods: str | None,
    now: datetime,
) -> list[PrescriptionOutcome]:
    """Plan every prescription off the event loop, then write them all in one transaction (the outbox pattern)."""
    for attempt in (1, 2):
        async with gw.sessions() as session:
            router = await repository.load_router(session)
            existing = await _existing_versions(session, parsed)
        outcomes, rows = await asyncio.to_thread(_plan, gw, parsed, router, existing, tenant_ods, payload_id, now)
        try:
            async with gw.sessions() as session, session.begin():
                await repository.bulk_insert(session, Prescription, rows.prescriptions)
                await repository.bulk_insert(session, PrescriptionItem, rows.items)
                await repository.bulk_insert(session, FhirMessage, rows.messages)
                await repository.bulk_insert(session, OutboxEntry, rows.outbox)
                await repository.bulk_insert(session, LifecycleEvent, rows.events)
            return outcomes
        except IntegrityError as exc:
            # Another upload stored one of these prescription versions between our read and our write:
            # plan again so it is answered as a duplicate or a conflict.
            if attempt == 2:
                raise StoreError("could not store the export: concurrent uploads of the same prescriptions") from exc
    raise AssertionError("unreachable")


async def _existing_versions(
    session: AsyncSession, parsed: list[ParsedPrescription]
) -> dict[tuple[str, str, int], Prescription]:
    by_trust: dict[str, set[str]] = {}
    for pp in parsed:
        if pp.prescription is not None:
            by_trust.setdefault(pp.prescription.trust_ods, set()).add(pp.prescription.rx_number)
    existing: dict[tuple[str, str, int], Prescription] = {}
    for trust, numbers in by_trust.items():
        for (rx, version), row in (await repository.existing_versions(session, trust, numbers)).items():
            existing[(trust, rx, version)] = row
    return existing


def _plan(
    gw: Gateway,
    parsed: list[ParsedPrescription],
    router: Router,
    existing: dict[tuple[str, str, int], Prescription],
    tenant_ods: str | None,
    payload_id: str,
    now: datetime,
) -> tuple[list[PrescriptionOutcome], _Rows]:
    outcomes: list[PrescriptionOutcome] = []
    rows = _Rows()
    for pp in parsed:
        outcome = PrescriptionOutcome(pp.rx_number, pp.rx_version, pp.lines, "rejected", issues=list(pp.issues))
        outcomes.append(outcome)
        if pp.prescription is not None and not pp.errors:
            _accept(gw, pp.prescription, outcome, rows, router, existing, tenant_ods, payload_id, now)
    return outcomes, rows


def _accept(
    gw: Gateway,
    p: HomecarePrescription,
    outcome: PrescriptionOutcome,
    rows: _Rows,
    router: Router,
    existing: dict[tuple[str, str, int], Prescription],
    tenant_ods: str | None,
    payload_id: str,
    now: datetime,
) -> None:
    """Map one valid prescription to rows; record why it is rejected, held or a duplicate."""
    here = Location(line=outcome.lines[0] if outcome.lines else None)
    if tenant_ods is not None and p.trust_ods != tenant_ods:
        outcome.issues.append(
            Issue(
                code="TENANT_MISMATCH",
                message="TrustODS is not the trust this client acts for",
                location=Location(line=here.line, column="TrustODS"),
                value=p.trust_ods,
                expected=tenant_ods,
            )
        )
        return
    if p.action is not Action.NEW:
        outcome.issues.append(
            Issue(
                code="UNSUPPORTED_ACTION",
                message=f"{p.action.value} is not supported by this gateway version yet",
                location=Location(line=here.line, column="Action"),
                value=p.action.value,
                expected="NEW",
            )
        )
        return
    canonical = p.model_dump_json().encode()
    content_sha = hashlib.sha256(canonical).hexdigest()
    previous = existing.get(p.key)
    if previous is not None:
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
        return

    route = router.route(p)
    ids = OrderIds.new(p)
    outcome.prescription_id = ids.prescription_id
    outcome.short_form_id = ids.short_form_id
    outcome.provider_ods = route.provider_ods
    outcome.reason = route.reason
    message_row: dict[str, Any] | None = None
    if route.provider_ods is not None:
        bundle = build_prescription_order(
            p, ids, provider_ods=route.provider_ods, source_endpoint=gw.settings.public_base_url
        )
        problems = validate_resource(bundle)
        if problems:
            # A mapping bug, not the trust's fault; report it located in the bundle rather than queue a bad order.
            outcome.issues.extend(problems)
            outcome.prescription_id = outcome.short_form_id = outcome.provider_ods = outcome.reason = None
            return
        message_row = {
            "id": ids.message_id,
            "direction": "out",
            "event": "prescription-order",
            "prescription_id": ids.prescription_id,
            "sender_ods": p.trust_ods,
            "receiver_ods": route.provider_ods,
            "body_enc": gw.cipher.seal(dumps_bundle(bundle), context=message_context(ids.message_id, p.trust_ods)),
            "created_at": now,
        }
        outcome.message_id = ids.message_id
    nhs_number = p.patient.nhs_number if p.patient else ""  # adapters reject a NEW without a patient
    deliveries = max((i.number_of_deliveries for i in p.items), default=0)
    rows.prescriptions.append(
        {
            "id": ids.prescription_id,
            "short_form_id": ids.short_form_id,
            "trust_ods": p.trust_ods,
            "rx_number": p.rx_number,
            "rx_version": p.rx_version,
            "action": p.action.value,
            "status": lifecycle.TO_BE_DISPENSED,
            "provider_ods": route.provider_ods,
            "service_type": p.service_type.value if p.service_type else None,
            "route_reason": route.reason,
            "nhs_index": gw.cipher.blind_index(nhs_number),
            "canonical_enc": gw.cipher.seal(canonical, context=prescription_context(ids.prescription_id, p.trust_ods)),
            "content_sha256": content_sha,
            "inbound_id": payload_id,
            "deliveries_authorised": deliveries,
            "deliveries_made": 0,
            "supply_until": None,
            "created_at": now,
            "updated_at": now,
        }
    )
    for item in p.items:
        rows.items.append(
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
    rows.events.append(
        _event(
            ids.prescription_id,
            now,
            "received",
            lifecycle.TO_BE_DISPENSED,
            p.trust_ods,
            None,
            f"{p.source_format} export {payload_id}",
        )
    )
    if message_row is None:
        outcome.outcome = "held"
        rows.events.append(_event(ids.prescription_id, now, "held", None, None, None, route.reason))
        return
    rows.messages.append(message_row)
    rows.outbox.append(
        {
            "message_id": ids.message_id,
            "prescription_id": ids.prescription_id,
            "provider_ods": route.provider_ods,
            "state": "queued",
            "available_at": now,
            "lease_token": 0,
            "attempts": 0,
            "created_at": now,
        }
    )
    rows.events.append(
        _event(
            ids.prescription_id,
            now,
            "queued",
            None,
            route.provider_ods,
            ids.message_id,
            f"prescription-order for {route.provider_ods} ({route.reason})",
        )
    )
    outcome.outcome = "accepted"


def _event(
    prescription_id: str,
    at: datetime,
    kind: str,
    status: str | None,
    actor: str | None,
    message_id: str | None,
    detail: str | None,
) -> dict[str, Any]:
    return {
        "prescription_id": prescription_id,
        "at": at,
        "kind": kind,
        "status": status,
        "actor_ods": actor,
        "message_id": message_id,
        "detail": detail,
    }
