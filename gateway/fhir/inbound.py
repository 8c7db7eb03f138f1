"""Reading inbound FHIR resources into small typed records; every failure is a located InputError."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import InputError, Issue, Location

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SHORT_FORM_SYSTEM = "https://fhir.nhs.uk/Id/prescription-order-number"


def fail(
    path: str, message: str, *, code: str = "INVALID_VALUE", value: object = None, expected: str | None = None
) -> InputError:
    return InputError(
        [
            Issue(
                code=code,
                message=message,
                location=Location(path=path),
                value=None if value is None else str(value),
                expected=expected,
            )
        ]
    )


def require(obj: Any, key: str, path: str, kind: type = dict) -> Any:
    """`obj[key]` of type `kind`, else a located error naming `path.key`."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or value in ("", [], {}):
        raise fail(
            f"{path}.{key}",
            f"{path}.{key} is required",
            code="MISSING_VALUE",
            expected=kind.__name__ if kind is not dict else "an object",
        )
    return value


def identifier_value(reference: Any, path: str, system: str) -> str:
    """The value of a Reference's or Identifier's identifier with `system`."""
    ident = reference.get("identifier", reference) if isinstance(reference, dict) else None
    if not isinstance(ident, dict) or ident.get("system") != system or not isinstance(ident.get("value"), str):
        raise fail(f"{path}.identifier", f"{path} must identify by {system}", code="MISSING_VALUE", expected=system)
    return str(ident["value"])


@dataclass(frozen=True, slots=True)
class MessageHeaderInfo:
    id: str
    event: str
    sender_ods: str | None
    response_to: str | None
    response_code: str | None


def read_message(bundle: Any) -> tuple[MessageHeaderInfo, list[dict[str, Any]]]:
    """The MessageHeader facts and the bundle's resources, for a Bundle of type message."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise fail("Bundle", "the body must be a FHIR Bundle", code="INVALID_RESOURCE", value=_rtype(bundle))
    if bundle.get("type") != "message":
        raise fail("Bundle.type", "Bundle.type must be message", value=bundle.get("type"), expected="message")
    entries = require(bundle, "entry", "Bundle", list)
    resources = [e.get("resource") if isinstance(e, dict) else None for e in entries]
    header = resources[0]
    if not isinstance(header, dict) or header.get("resourceType") != "MessageHeader":
        raise fail(
            "Bundle.entry[0].resource",
            "a message bundle starts with its MessageHeader",
            value=_rtype(header),
            expected="MessageHeader",
        )
    path = "Bundle.entry[0].resource"
    event = require(header, "eventCoding", path).get("code")
    if not isinstance(event, str):
        raise fail(f"{path}.eventCoding.code", "MessageHeader.eventCoding.code is required", code="MISSING_VALUE")
    sender = header.get("sender")
    sender_ods = None
    if isinstance(sender, dict) and isinstance(sender.get("identifier"), dict):
        sender_ods = sender["identifier"].get("value")
    response = header.get("response")
    response_to = response_code = None
    if isinstance(response, dict):
        response_to = require(response, "identifier", f"{path}.response", str)
        response_code = require(response, "code", f"{path}.response", str)
        if response_code not in ("ok", "transient-error", "fatal-error"):
            raise fail(
                f"{path}.response.code",
                "unknown response code",
                value=response_code,
                expected="ok, transient-error or fatal-error",
            )
    header_id = header.get("id") or bundle.get("id")
    if not isinstance(header_id, str):
        raise fail(f"{path}.id", "MessageHeader.id is required", code="MISSING_VALUE")
    return MessageHeaderInfo(header_id, event, sender_ods, response_to, response_code), [
        r for r in resources if isinstance(r, dict)
    ]


def entry_full_urls(bundle: dict[str, Any]) -> list[str | None]:
    """fullUrl of each entry whose resource is an object, in the order `read_message` returns resources."""
    return [
        e.get("fullUrl") if isinstance(e.get("fullUrl"), str) else None
        for e in bundle.get("entry", [])
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]


def _rtype(obj: Any) -> str:
    return str(obj.get("resourceType")) if isinstance(obj, dict) else type(obj).__name__


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    owner_ods: str
    short_form_id: str | None
    max_count: int | None
    wait: int | None = None  # long-poll: seconds to hold the request while nothing is waiting


def read_release_parameters(params: Any) -> ReleaseRequest:
    """EPS `$release` Parameters: owner (an Organization with an ODS code), optional group-identifier, max-count
    and wait (seconds to long-poll)."""
    if not isinstance(params, dict) or params.get("resourceType") != "Parameters":
        raise fail(
            "Parameters", "the body must be a FHIR Parameters resource", code="INVALID_RESOURCE", value=_rtype(params)
        )
    by_name: dict[str, tuple[int, dict[str, Any]]] = {}
    raw = params.get("parameter", [])
    if not isinstance(raw, list):
        raise fail("Parameters.parameter", "parameter must be a list", value=type(raw).__name__, expected="an array")
    for i, p in enumerate(raw):
        if isinstance(p, dict) and isinstance(p.get("name"), str):
            by_name[p["name"]] = (i, p)
    if "owner" not in by_name:
        raise fail(
            "Parameters.parameter",
            "the owner parameter is required",
            code="MISSING_VALUE",
            expected="a parameter named owner holding the provider's Organization",
        )
    index, owner = by_name["owner"]
    org = owner.get("resource")
    identifiers = org.get("identifier") if isinstance(org, dict) else None
    if not isinstance(identifiers, list) or not identifiers:
        raise fail(
            f"Parameters.parameter[{index}].resource.identifier",
            "the owner Organization needs its ODS code",
            code="MISSING_VALUE",
            expected=ODS_SYSTEM,
        )
    owner_ods = identifier_value(
        {"identifier": identifiers[0]},
        f"Parameters.parameter[{index}].resource",
        ODS_SYSTEM,
    )
    short_form = None
    if "group-identifier" in by_name:
        index, group = by_name["group-identifier"]
        short_form = identifier_value(
            group.get("valueIdentifier"), f"Parameters.parameter[{index}].valueIdentifier", SHORT_FORM_SYSTEM
        )
    max_count = None
    if "max-count" in by_name:
        index, count = by_name["max-count"]
        max_count = count.get("valueInteger")
        if isinstance(max_count, bool) or not isinstance(max_count, int) or max_count < 1:
            raise fail(
                f"Parameters.parameter[{index}].valueInteger",
                "max-count must be a positive integer",
                value=max_count,
                expected="an integer >= 1",
            )
    wait = None
    if "wait" in by_name:
        index, part = by_name["wait"]
        wait = part.get("valueInteger")
        if isinstance(wait, bool) or not isinstance(wait, int) or wait < 0:
            raise fail(
                f"Parameters.parameter[{index}].valueInteger",
                "wait must be a whole number of seconds",
                value=wait,
                expected="an integer >= 0",
            )
    return ReleaseRequest(owner_ods, short_form, max_count, wait)
