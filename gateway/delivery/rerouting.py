"""Re-routing a returned prescription: the routing rules again, without the providers that handed it back.

When another provider matches, a new prescription-order (new MessageHeader.id, same prescription and line-item
ids, addressed and signed for the new provider) goes into the outbox in the caller's transaction. When none
does, the prescription is held, unrouted, with the reason on it and on its timeline: never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.context import Gateway
from gateway.domain.model import HomecarePrescription
from gateway.errors import InputError
from gateway.fhir.prescription_order import OrderIds, build_prescription_order
from gateway.intake.order_writer import Addressee, OrderWriter, Outgoing, queued
from gateway.intake.rows import Rows
from gateway.store import prescription_rows, provider_rows, repository
from gateway.store.directory import load_directory
from gateway.store.sealed import prescription_context
from gateway.store.tables import FhirMessage, LifecycleEvent, OutboxEntry, Prescription
from gateway.validator.profiles import HOMECARE_PRESCRIPTION_ORDER


@dataclass(frozen=True, slots=True)
class Rerouted:
    provider_ods: str | None  # None: held, unrouted
    reason: str
    message_id: str | None = None


async def reroute_returned(
    session: AsyncSession, gw: Gateway, p: Prescription, returned_by: frozenset[str], why: str, now: datetime
) -> Rerouted:
    """Route `p` again excluding `returned_by`; queue the order for the provider found, or hold `p`.

    `why` says what happened (e.g. "returned by VNFKT (0003 Patient requested release)") and starts the reason
    recorded either way. The caller commits; call `gw.outbox_signal.notify` after it when a provider was found.
    """
    canonical = HomecarePrescription.model_validate_json(
        gw.cipher.open(p.canonical_enc, context=prescription_context(p.id, p.trust_ods))
    )
    router = await provider_rows.load_router(session)
    route = router.route(canonical, exclude=returned_by)
    if route.provider_ods is None:
        return _hold(session, p, f"{why}; no other route", now)
    if canonical.source_format == "fhir":
        # An EPS order goes on exactly as the trust's EPR signed it (its own MessageHeader.id): the gateway cannot
        # re-address it without breaking the prescriber's signature; the trust sends it to another provider.
        return _hold(session, p, f"{why}; an EPS order from the trust's EPR is not re-addressed by the gateway", now)
    prescribing = (await load_directory(session)).prescribing(canonical.trust_ods, canonical.site_code)
    if isinstance(prescribing, list):
        return _hold(session, p, f"{why}; {prescribing[0].message}", now)
    items = await prescription_rows.prescription_items(session, p.id)
    fresh = OrderIds.new(canonical)
    ids = OrderIds(
        message_id=fresh.message_id,
        bundle_identifier=fresh.bundle_identifier,
        prescription_id=p.id,
        short_form_id=p.short_form_id,
        item_ids={item.line_no: item.id for item in items},
        patient_id=fresh.patient_id,
        practitioner_id=fresh.practitioner_id,
        practitioner_role_id=fresh.practitioner_role_id,
        organization_id=fresh.organization_id,
    )
    try:
        bundle = build_prescription_order(
            canonical,
            ids,
            provider_ods=route.provider_ods,
            source_endpoint=gw.settings.public_base_url,
            prescribing=prescribing,
        )
    except InputError as exc:  # accepted before EPS's schedule and unit rules: the trust re-sends it
        return _hold(session, p, f"{why}; {exc.issues[0].message}", now)
    reason = f"{why}; re-routed by {route.reason}"
    rows = Rows()
    problems = OrderWriter(gw, now).write(
        rows,
        [Outgoing(bundle, ids.message_id, "prescription-order")],
        Addressee(p.id, p.trust_ods, p.rx_number, route.provider_ods),
        queued(route.provider_ods, reason),
        profile=HOMECARE_PRESCRIPTION_ORDER,
    )
    if problems:  # a mapping bug: hold it visibly rather than send a bad order
        first = problems[0]
        return _hold(session, p, f"{why}; the order for {route.provider_ods} failed validation: {first.message}", now)
    [message], [order], [event] = rows.messages, rows.outbox, rows.events
    repository.save(session, FhirMessage(**message))
    await repository.save_now(session)  # the outbox row refers to the message
    repository.save(session, OutboxEntry(**order))
    p.provider_ods = route.provider_ods
    p.route_reason = reason[:500]
    repository.save(session, p)
    repository.save(session, LifecycleEvent(**event))
    return Rerouted(route.provider_ods, reason, ids.message_id)


def _hold(session: AsyncSession, p: Prescription, reason: str, now: datetime) -> Rerouted:
    p.provider_ods = None
    p.route_reason = reason[:500]
    repository.save(session, p)
    repository.save(session, LifecycleEvent(prescription_id=p.id, at=now, kind="held", detail=reason))
    return Rerouted(None, reason)
