"""An inbound EPS message Bundle: its entries with their FHIRPaths, reference resolution, and the message checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.fhir import issues as codes
from adapters.fhir.issues import Reader
from gateway.fhir import urls

PRESCRIPTION_ORDER = "prescription-order"
PRESCRIPTION_ORDER_UPDATE = "prescription-order-update"
SUPPORTED_EVENTS = (PRESCRIPTION_ORDER, PRESCRIPTION_ORDER_UPDATE)


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource of the Bundle and where it stands."""

    index: int
    full_url: str | None
    resource: dict[str, Any]

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}].resource"

    @property
    def type(self) -> str:
        return str(self.resource.get("resourceType"))


class MessageBundle:
    """The entries of a message Bundle, looked up by type and resolved by `urn:uuid:` fullUrl (as EPS refers)."""

    def __init__(self, bundle: dict[str, Any], entries: list[Entry], reader: Reader) -> None:
        self.raw = bundle
        self.entries = entries
        self._by_url: dict[str, Entry] = {}
        for entry in entries:
            if entry.full_url is None:
                continue
            if entry.full_url in self._by_url:
                # Two entries under one fullUrl make every reference to it ambiguous.
                reader.fail(codes.DUPLICATE_FULL_URL, f"Bundle.entry[{entry.index}].fullUrl",
                            "fullUrl is already used by another entry of this Bundle", value=entry.full_url,
                            expected=f"a fullUrl not used by Bundle.entry[{self._by_url[entry.full_url].index}]")
                continue
            self._by_url[entry.full_url] = entry

    @property
    def header(self) -> Entry:
        return self.entries[0]

    @property
    def event(self) -> str:
        return str(self.header.resource["eventCoding"]["code"])

    def of_type(self, resource_type: str) -> list[Entry]:
        return [e for e in self.entries if e.type == resource_type]

    def resolve(self, reference: Any) -> Entry | None:
        """The entry a Reference's `reference` names, or None (no reference, or nothing under that fullUrl)."""
        target = reference.get("reference") if isinstance(reference, dict) else None
        return self._by_url.get(target) if isinstance(target, str) else None

    def message_id(self) -> str | None:
        """MessageHeader.id (what OrderIds.message_id is on the way out), else Bundle.id, else the header's uuid."""
        for candidate in (self.header.resource.get("id"), self.raw.get("id"), _uuid_of(self.header.full_url)):
            if isinstance(candidate, str) and candidate:
                return candidate
        return None

    def sender_ods(self) -> str | None:
        sender = self.header.resource.get("sender")
        ident = sender.get("identifier") if isinstance(sender, dict) else None
        if isinstance(ident, dict) and ident.get("system") == urls.ODS_ORGANIZATION_CODE:
            value = ident.get("value")
            return value if isinstance(value, str) and value else None
        return None


def _uuid_of(full_url: str | None) -> str | None:
    return full_url.removeprefix("urn:uuid:") if full_url and full_url.startswith("urn:uuid:") else None


def read_message(bundle: Any, reader: Reader) -> MessageBundle | None:
    """The message when `bundle` is a prescription-order or -update message Bundle; else None, the reason recorded.

    What is recorded here makes the payload as a whole unusable: the caller reports it at message level.
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        seen = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        reader.fail(codes.NOT_A_MESSAGE, "Bundle", "the body must be a FHIR Bundle of type message", value=seen,
                    expected="Bundle")
        return None
    if bundle.get("type") != "message":
        reader.fail(codes.NOT_A_MESSAGE, "Bundle.type", "Bundle.type must be message", value=bundle.get("type"),
                    expected="message")
        return None
    raw_entries = bundle.get("entry")
    if not isinstance(raw_entries, list) or not raw_entries:
        # EPS answers MISSING_FIELD "ResourceType Bundle must contain 'entry' field".
        reader.missing("Bundle.entry", "a message Bundle must contain 'entry'", "the MessageHeader and the resources")
        return None
    entries: list[Entry] = []
    for index, raw in enumerate(raw_entries):
        resource = raw.get("resource") if isinstance(raw, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            reader.fail(codes.INVALID_VALUE, f"Bundle.entry[{index}].resource", "every entry must hold a resource",
                        expected="a FHIR resource with a resourceType")
            continue
        full_url = raw.get("fullUrl")
        entries.append(Entry(index, full_url if isinstance(full_url, str) else None, resource))
    if reader.error_count:
        return None
    header = entries[0].resource
    if header.get("resourceType") != "MessageHeader":
        reader.fail(codes.NOT_A_MESSAGE, "Bundle.entry[0].resource.resourceType",
                    "a message Bundle starts with its MessageHeader", value=header.get("resourceType"),
                    expected="MessageHeader")
        return None
    coding = header.get("eventCoding")
    event = coding.get("code") if isinstance(coding, dict) else None
    if event not in SUPPORTED_EVENTS:
        reader.fail(codes.UNSUPPORTED_MESSAGE_EVENT, "Bundle.entry[0].resource.eventCoding.code",
                    "this adapter reads prescription messages only", value=event,
                    expected=" or ".join(SUPPORTED_EVENTS))
        return None
    return MessageBundle(bundle, entries, reader)
