"""`$process-message`: dispatches an inbound FHIR message to the service that handles its kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.budget import offload_sized
from gateway.context import Gateway
from gateway.delivery import acknowledgements, rejections
from gateway.domain.principal import UPDATE, WRITE, Principal, Role, require_role, require_same_tenant
from gateway.errors import InputError
from gateway.fhir.dispenser import dispensing_organisation
from gateway.fhir.inbound import MessageHeaderInfo, entry_full_urls, fail, read_message
from gateway.fhir.serialise import loads_bundle
from gateway.intake.ingest import ingest_export
from gateway.lifecycle import dispensing
from gateway.validator.profiles import HOMECARE_ACKNOWLEDGEMENT, HOMECARE_DISPENSE_NOTIFICATION
from gateway.validator.validator import Validator

ORDER_EVENTS = ("prescription-order", "prescription-order-update")


@dataclass(frozen=True, slots=True)
class MessageResult:
    kind: str  # prescription-order, acknowledgement, dispense-notification
    message_id: str
    applied: bool  # False for a resend that changed nothing
    detail: str = ""


async def process_message(gw: Gateway, principal: Principal, raw: bytes) -> MessageResult:
    """Apply one FHIR message: orders from a trust's EPR, acknowledgements and dispensing from a provider.
    The sender is always the caller."""
    try:
        bundle = await offload_sized(len(raw), loads_bundle, raw)
    except ValueError as exc:
        raise fail("Bundle", f"the body is not JSON: {exc}", code="INVALID_JSON") from exc
    header, resources = read_message(bundle)
    if header.event in ORDER_EVENTS:
        return await _trust_order(gw, principal, raw, header.id)
    check_provider_message(principal, bundle, header)
    # A dispense notification also carries MessageHeader.response (naming the order), so the event decides first.
    if header.event == "dispense-notification":
        applied = await dispensing.record_dispense(
            gw, principal, header, resources, raw, full_urls=entry_full_urls(bundle)
        )
        return MessageResult("dispense-notification", header.id, applied)
    ack = acknowledgement_of(header, resources)
    if ack is not None:
        outcome = (await acknowledgements.apply_acknowledgements(gw, principal, [ack]))[0]
        if outcome.error is not None:
            raise outcome.error
        return MessageResult("acknowledgement", header.id, outcome.applied)  # False: a resend, nothing changed
    raise fail(
        "Bundle.entry[0].resource.eventCoding.code",
        f"message event {header.event!r} is not handled yet",
        code="NOT_SUPPORTED",
        value=header.event,
        expected="prescription-order, dispense-notification or a response message",
    )


def acknowledgement_of(header: MessageHeaderInfo, resources: Any) -> acknowledgements.Ack | None:
    """The acknowledgement a message carries: a response message that is not an order or a dispense
    notification (which also carries MessageHeader.response, naming the order); None for any other message."""
    if header.event in ORDER_EVENTS or header.event == "dispense-notification" or header.response_to is None:
        return None
    code = header.response_code or "ok"  # read_message sets both or neither
    return acknowledgements.Ack(header.response_to, code, rejections.reason(resources))


def check_provider_message(principal: Principal, bundle: Any, header: MessageHeaderInfo) -> None:
    """What every provider message must pass before it is applied: the caller's role, our homecare profile for
    its kind, and a sender that is the caller. Raises the first refusal (InputError lists every profile issue)."""
    require_role(principal, Role.PROVIDER, scopes=UPDATE)
    # Providers' messages must follow our homecare profiles (stricter than the base EPS shapes: a supplied
    # item says when it was handed over, a not-dispensed one says why).
    if header.event == "dispense-notification":
        profile: str | None = HOMECARE_DISPENSE_NOTIFICATION
    else:
        profile = HOMECARE_ACKNOWLEDGEMENT if header.response_to is not None else None
    issues = [i for i in Validator.from_package().validate(bundle, profile) if i.severity in ("error", "fatal")]
    if issues:
        raise InputError(issues)
    dispenser = dispensing_organisation(bundle) if header.event == "dispense-notification" else None
    if dispenser is not None:
        # EPS names the dispenser by the performer's organisation, whatever MessageHeader.sender says (EPS's own
        # examples send the prescriber's organisation or Spine there): that organisation must be the caller.
        require_same_tenant(principal, dispenser, "MedicationDispense.performer")
        return
    if header.sender_ods is None:
        raise fail(
            "Bundle.entry[0].resource.sender.identifier", "the sender's ODS code is required", code="MISSING_VALUE"
        )
    require_same_tenant(principal, header.sender_ods, "MessageHeader.sender")


async def _trust_order(gw: Gateway, principal: Principal, raw: bytes, message_id: str) -> MessageResult:
    """An EPS prescription-order from a trust's EPR: ingested like an export, the bundle kept as it came."""
    require_role(principal, Role.TRUST, scopes=WRITE)
    report = await ingest_export(gw, principal, raw, "application/fhir+json")
    if report.outcome == "rejected":
        raise InputError(report.file_issues + [i for p in report.prescriptions for i in p.issues])
    outcome = report.prescriptions[0]
    detail = f"{outcome.outcome}: {outcome.short_form_id} for {outcome.provider_ods or 'no provider yet (held)'}"
    return MessageResult("prescription-order", message_id, outcome.outcome != "duplicate", detail)
