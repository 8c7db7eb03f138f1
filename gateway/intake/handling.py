"""Handling an export: parse it, then plan every good prescription and store it as a queued order, in one
transaction (the transactional outbox). `ingest` decides where this runs: here, in worker threads, or for a heavy
export in a process of its own (`isolated`).
"""

from __future__ import annotations

import dataclasses
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from adapters import ParsedPrescription, ParseResult, adapter_for
from adapters.fhir import eps_ids
from gateway import audit
from gateway.budget import offload
from gateway.context import Gateway
from gateway.domain.model import Action
from gateway.domain.principal import Principal
from gateway.errors import InputError, Issue, Location, StoreError
from gateway.fhir.prescription_order import OrderIds
from gateway.fhir.serialise import loads_bundle
from gateway.intake.outcomes import PrescriptionOutcome
from gateway.intake.plan_pool import plans
from gateway.intake.planning import Arrived, Key, PlanInputs
from gateway.intake.reused_ids import refuse_reused_ids
from gateway.intake.rows import Rows
from gateway.signing.bundle import is_gateway_provenance
from gateway.signing.eps import inspect_eps_signature
from gateway.signing.policy import SignaturePolicy, decide
from gateway.store import bulk, prescription_rows, provider_rows, repository
from gateway.store.directory import load_directory
from gateway.store.supply_tables import SupplyChange
from gateway.store.tables import (
    FhirMessage,
    LifecycleEvent,
    OutboxEntry,
    Prescription,
    PrescriptionItem,
)


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


@dataclass(slots=True)
class Handled:
    """What became of an export, wherever it was handled (here, or in an isolated process: `isolated`)."""

    format: str
    file_issues: list[Issue]
    outcomes: list[PrescriptionOutcome]
    providers: list[str] = field(default_factory=list)
    """Whose queues got orders: their long-polls are woken (`OutboxSignal` is per process)."""
    parsed: ParseResult | None = None
    """The parsed payload, for answers in the source format; only when handled in this process."""
    ack: bytes | None = None
    """The HL7 v2 answer, when an isolated process handled an HL7 v2 payload (it keeps the parsed payload)."""


async def handle(
    gw: Gateway, principal: Principal, payload: bytes, content_type: str, payload_id: str, now: datetime
) -> Handled:
    """Parse `payload` and store each good prescription as a queued order (one transaction). CPU-bound steps run
    in worker threads under the request's CPU budget; `isolated` runs this in a process of its own."""
    try:
        result = await offload(parse_payload, payload, content_type)
    except InputError as exc:
        result = ParseResult(format="unknown", file_issues=exc.issues)
    if result.file_rejected:
        return Handled(result.format, result.file_issues, [], parsed=result)
    prebuilt = await offload(_eps_bundles, gw, payload, result, now) if result.format == "fhir" else {}
    outcomes, providers = await _store_prescriptions(gw, principal, payload_id, result.prescriptions, now, prebuilt)
    return Handled(result.format, result.file_issues, outcomes, providers, parsed=result)


async def _store_prescriptions(
    gw: Gateway,
    principal: Principal,
    payload_id: str,
    parsed: list[ParsedPrescription],
    now: datetime,
    prebuilt: dict[Key, Arrived] | None = None,
) -> tuple[list[PrescriptionOutcome], list[str]]:
    """Plan every prescription off the event loop (`plan_pool`) and write them all in one transaction (the outbox
    pattern). Returns the outcomes and the providers whose queues got orders (their long-polls are woken once
    committed)."""
    changes = {
        (pp.prescription.trust_ods, pp.prescription.rx_number)
        for pp in parsed
        if pp.prescription is not None and pp.prescription.action is not Action.NEW
    }
    for attempt in (1, 2, 3):
        async with gw.sessions() as session:
            router = await provider_rows.load_router(session)
            directory = await load_directory(session)
            if prebuilt:
                await refuse_reused_ids(session, parsed, prebuilt)
            existing = await _existing_versions(session, parsed)
            current = await prescription_rows.current_versions(session, changes) if changes else {}
        inputs = PlanInputs(
            router, directory, existing, principal.ods, payload_id, now, prebuilt=prebuilt or {}, current=current
        )
        try:
            async with gw.sessions() as session, session.begin(), aclosing(plans(gw, inputs, parsed)) as planned:
                outcomes: list[PrescriptionOutcome] = []
                providers: list[str] = []
                async for chunk_outcomes, rows in planned:  # each chunk written while the next are planned
                    await _write(session, rows)
                    outcomes.extend(chunk_outcomes)
                    providers.extend(row["provider_ods"] for row in rows.outbox)
                await _audit(session, gw, principal, payload_id, outcomes)
            return outcomes, providers
        except (IntegrityError, _Stale) as exc:
            # Another upload stored one of these versions, or a provider released an order being cancelled,
            # between our read and our write: plan again on the new state.
            if attempt == 3:
                raise StoreError("could not store the export: the prescriptions kept changing meanwhile") from exc
    raise AssertionError("unreachable")


async def _write(session: AsyncSession, rows: Rows) -> None:
    """One chunk's rows: its conditional updates, then its inserts, parents before children."""
    for change in rows.updates:
        if not await repository.apply_update(session, change.table, change.key, change.expect, change.values):
            raise _Stale(f"{change.table.__tablename__} {change.key} changed while planning")
    await bulk.insert_rows(session, Prescription, rows.prescriptions)
    await bulk.insert_rows(session, PrescriptionItem, rows.items)
    await bulk.insert_rows(session, FhirMessage, rows.messages)
    await bulk.insert_rows(session, OutboxEntry, rows.outbox)
    await bulk.insert_rows(session, LifecycleEvent, rows.events)
    await bulk.insert_rows(session, SupplyChange, rows.supply)


class _Stale(Exception):
    """A conditional update found its row changed since the plan was made."""


async def _audit(
    session: AsyncSession, gw: Gateway, principal: Principal, payload_id: str, outcomes: list[PrescriptionOutcome]
) -> None:
    created = sum(o.outcome in ("accepted", "held") for o in outcomes)
    changed = sum(o.outcome in ("cancelled", "cancellation-requested") for o in outcomes)
    if created:
        await audit.append(
            session,
            gw.clock,
            principal,
            "prescription.create",
            "inbound-payload",
            payload_id,
            "success",
            {"prescriptions": created},
        )
    if changed:
        await audit.append(
            session,
            gw.clock,
            principal,
            "prescription.update",
            "inbound-payload",
            payload_id,
            "success",
            {"prescriptions": changed},
        )


def _eps_bundles(gw: Gateway, payload: bytes, result: ParseResult, now: datetime) -> dict[Key, Arrived]:
    """For an EPS bundle: keep the EPR's own ids and the bundle itself, so the order goes on unchanged, and
    judge the prescriber's signature under the configured policy (a rejection is located on the Provenance)."""
    accepted = [pp for pp in result.prescriptions if pp.accepted and pp.prescription]
    if not accepted:
        return {}
    pp = accepted[0]
    p = pp.prescription
    assert p is not None  # noqa: S101 - filtered above
    bundle = loads_bundle(payload)
    eps = eps_ids(bundle)
    ids = dataclasses.replace(
        OrderIds.new(p),
        message_id=eps.message_id,
        prescription_id=eps.prescription_id,
        short_form_id=eps.short_form_id,
        item_ids=dict(eps.item_ids),
    )
    policy = SignaturePolicy(gw.settings.eps_signature_policy)
    verdicts = []
    for index, entry in enumerate(bundle.get("entry", [])):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "Provenance":
            continue
        if is_gateway_provenance(resource):
            continue  # a gateway's JOSE signature over a message it forwarded, not a prescriber's
        verdict = inspect_eps_signature(resource, gw.eps_trust_anchors, now=now, bundle=bundle)
        decision = decide(verdict, policy)
        verdicts.append(f"{verdict.status.value}: {verdict.detail}")
        if not decision.accepted:
            pp.issues.append(
                Issue(
                    code="SIGNATURE_REJECTED",
                    message=decision.reason,
                    location=Location(path=f"Bundle.entry[{index}].resource.signature[0]"),
                    value=verdict.status.value,
                    expected="a signature verified against a trust anchor",
                )
            )
    if not verdicts and policy is SignaturePolicy.REJECT:
        pp.issues.append(
            Issue(
                code="SIGNATURE_REJECTED",
                message="the order carries no prescriber signature",
                location=Location(path="Bundle.entry"),
                expected="a signed Provenance",
            )
        )
    if pp.errors:
        pp.prescription = None
        return {}
    return {p.key: Arrived(ids, bundle, "; ".join(verdicts) or "no prescriber signature (policy: flag)")}


async def _existing_versions(
    session: AsyncSession, parsed: list[ParsedPrescription]
) -> dict[tuple[str, str, int], list[Prescription]]:
    by_trust: dict[str, set[str]] = {}
    for pp in parsed:
        if pp.prescription is not None:
            by_trust.setdefault(pp.prescription.trust_ods, set()).add(pp.prescription.rx_number)
    existing: dict[tuple[str, str, int], list[Prescription]] = {}
    for trust, numbers in by_trust.items():
        for (rx, version), rows in (await prescription_rows.existing_versions(session, trust, numbers)).items():
            existing[(trust, rx, version)] = rows
    return existing
