"""The EPS ids an inbound order carries (short-form and long-form prescription ids, message id, line-item ids)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from adapters.fhir import issues as codes
from adapters.fhir.bundle import Entry, read_message
from adapters.fhir.issues import Reader
from gateway.domain.identifiers import is_valid_short_form_id, mod37_2_check_character
from gateway.errors import InputError
from gateway.fhir import urls

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SHORT_FORM_SHAPE = re.compile(r"^[0-9A-F]{6}-[0-9A-Z]{6}-[0-9A-F]{5}[0-9A-Z+]$")
# Older EPS messages (spec/errors/example-b) name the short-form id system so.
LEGACY_SHORT_FORM_SYSTEM = "https://fhir.nhs.uk/Id/prescription-short-form"
SHORT_FORM_EXPECTED = "XXXXXX-XXXXXX-XXXXXC: 6 hex, the prescriber's ODS code padded to 6, 5 hex, MOD 37-2 check"


@dataclass(frozen=True, slots=True)
class EpsIds:
    """The ids the trust's EPR gave this prescription; kept so that answers and status quote them back."""

    short_form_id: str  # groupIdentifier.value, e.g. 24F5DA-A83008-7EFE6Z
    prescription_id: str  # long-form id: groupIdentifier's Extension-DM-PrescriptionId
    message_id: str  # MessageHeader.id, else Bundle.id
    item_ids: dict[int, str]  # line_no (bundle order, from 1) → prescription-order-item-number


def group_ids(mr: dict[str, Any]) -> tuple[Any, Any, str]:
    """(short-form id, long-form id, path of the long-form id relative to the MedicationRequest), unchecked."""
    group = mr.get("groupIdentifier")
    if not isinstance(group, dict):
        return None, None, "groupIdentifier.extension"
    found = group.get("extension")
    for index, ext in enumerate(found if isinstance(found, list) else []):
        if isinstance(ext, dict) and ext.get("url") == urls.EXT_PRESCRIPTION_ID:
            ident = ext.get("valueIdentifier")
            value = ident.get("value") if isinstance(ident, dict) else None
            return group.get("value"), value, f"groupIdentifier.extension[{index}].valueIdentifier.value"
    return group.get("value"), None, "groupIdentifier.extension"


def check_group_identifier(r: Reader, entry: Entry) -> None:
    """The short-form id (format and MOD 37-2 check character) and the long-form id (a UUID) of one request."""
    mr, path = entry.resource, entry.path
    group = mr.get("groupIdentifier")
    if not isinstance(group, dict):
        r.missing(f"{path}.groupIdentifier", "groupIdentifier (the prescription's short-form id) is required",
                  SHORT_FORM_EXPECTED)
        return
    if group.get("system") not in (urls.PRESCRIPTION_ORDER_NUMBER, LEGACY_SHORT_FORM_SYSTEM):
        r.fail(codes.INVALID_VALUE, f"{path}.groupIdentifier.system", "unknown prescription id system",
               value=group.get("system"), expected=urls.PRESCRIPTION_ORDER_NUMBER)
    short, long, long_path = group_ids(mr)
    if not isinstance(short, str) or not short:
        r.missing(f"{path}.groupIdentifier.value", "the short-form prescription id is required", SHORT_FORM_EXPECTED)
    elif not _SHORT_FORM_SHAPE.match(short):
        r.fail(codes.INVALID_SHORT_FORM_ID, f"{path}.groupIdentifier.value", "not an EPS short-form prescription id",
               value=short, expected=SHORT_FORM_EXPECTED)
    elif not is_valid_short_form_id(short):
        right = mod37_2_check_character(short[:-1])
        r.fail(codes.INVALID_SHORT_FORM_ID, f"{path}.groupIdentifier.value",
               "prescription id has invalid checksum (ISO/IEC 7064 MOD 37-2)", value=short,
               expected=f"check character {right}: {short[:-1]}{right}")
    if long is None:
        r.missing(f"{path}.{long_path}", "the long-form prescription id is required",
                  f"an extension {urls.EXT_PRESCRIPTION_ID} with a UUID")
    elif not isinstance(long, str) or not _UUID_RE.match(long):
        r.fail(codes.INVALID_PRESCRIPTION_ID, f"{path}.{long_path}", "the long-form prescription id is not a UUID",
               value=long, expected="a UUID, e.g. 20ba5fb5-cb58-462c-923e-22d180b09356")


def item_id(entry: Entry) -> str:
    """The EPS line-item id: the prescription-order-item-number identifier, else the resource id or fullUrl uuid."""
    found = entry.resource.get("identifier")
    for ident in found if isinstance(found, list) else []:
        if isinstance(ident, dict) and ident.get("system") == urls.PRESCRIPTION_ORDER_ITEM_NUMBER:
            value = ident.get("value")
            if isinstance(value, str) and value:
                return value
    own = entry.resource.get("id")
    if isinstance(own, str) and own:
        return own
    return (entry.full_url or "").removeprefix("urn:uuid:")


def eps_ids(bundle: dict[str, Any]) -> EpsIds:
    """The EPS ids of a prescription-order or -update Bundle; InputError (located) when it has none.

    Read from the first MedicationRequest: `parse_bundle` rejects a Bundle whose requests disagree.
    """
    r = Reader()
    message = read_message(bundle, r)
    if message is None:
        raise InputError(r.issues)
    requests = message.of_type("MedicationRequest")
    if not requests:
        raise InputError([codes.issue(codes.MISSING_VALUE, "Bundle.entry", "the message has no MedicationRequest",
                                      expected="at least one MedicationRequest")])
    first = requests[0]
    short, long, long_path = group_ids(first.resource)
    message_id = message.message_id()
    found = [(short, f"{first.path}.groupIdentifier.value"), (long, f"{first.path}.{long_path}"),
             (message_id, "Bundle.entry[0].resource.id")]
    missing = [codes.issue(codes.MISSING_VALUE, path, "EPS id missing") for value, path in found
               if not isinstance(value, str) or not value]
    if missing:
        raise InputError(missing)
    return EpsIds(short_form_id=str(short), prescription_id=str(long), message_id=str(message_id),
                  item_ids={line: item_id(entry) for line, entry in enumerate(requests, start=1)})
