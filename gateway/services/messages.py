"""`$process-message`: dispatches an inbound FHIR message to the service that handles its kind."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import InputError, NotFoundError
from gateway.fhir.inbound import entry_full_urls, fail, read_message
from gateway.fhir.serialise import loads_bundle
from gateway.fhir.validation import validate_resource
from gateway.security.principal import Principal, Role, require_role, require_same_tenant
from gateway.services import dispensing, release
from gateway.services.context import Gateway


@dataclass(frozen=True, slots=True)
class MessageResult:
    kind: str  # acknowledgement, dispense-notification
    message_id: str
    applied: bool  # False for a resend that changed nothing


async def process_message(gw: Gateway, principal: Principal, raw: bytes) -> MessageResult:
    """Validate and apply one FHIR message from a provider; the sender must be the caller."""
    require_role(principal, Role.PROVIDER)
    try:
        bundle = loads_bundle(raw)
    except ValueError as exc:
        raise fail("Bundle", f"the body is not JSON: {exc}", code="INVALID_JSON") from exc
    issues = validate_resource(bundle)
    if issues:
        raise InputError(issues)
    header, resources = read_message(bundle)
    if header.sender_ods is None:
        raise fail(
            "Bundle.entry[0].resource.sender.identifier", "the sender's ODS code is required", code="MISSING_VALUE"
        )
    require_same_tenant(principal, header.sender_ods, "MessageHeader.sender")
    # A dispense notification also carries MessageHeader.response (naming the order), so the event decides first.
    if header.event == "dispense-notification":
        applied = await dispensing.record_dispense(
            gw, principal.ods, header, resources, raw, full_urls=entry_full_urls(bundle)
        )
        return MessageResult("dispense-notification", header.id, applied)
    if header.response_to is not None:
        code = header.response_code or "ok"  # read_message sets both or neither
        found = await release.acknowledge(gw, principal.ods, header.response_to, code, None)
        if not found:
            raise NotFoundError(f"message {header.response_to} not found")
        return MessageResult("acknowledgement", header.id, True)
    raise fail(
        "Bundle.entry[0].resource.eventCoding.code",
        f"message event {header.event!r} is not handled yet",
        code="NOT_SUPPORTED",
        value=header.event,
        expected="dispense-notification or a response message",
    )
