"""A prescription-order (NEW) or prescription-order-update (CANCEL) message to one canonical prescription.

All MedicationRequests of the message are the items of one prescription, so what belongs to the prescription
(ids, patient, requester, dispenser, homecare extensions, indication) must be the same on each of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from adapters.base import ParsedPrescription
from adapters.fhir import issues as codes
from adapters.fhir.bundle import PRESCRIPTION_ORDER_UPDATE, Entry, MessageBundle
from adapters.fhir.ids import check_group_identifier, group_ids
from adapters.fhir.issues import Reader
from adapters.fhir.items import extension, read_item
from adapters.fhir.parties import address, identifier, ods_code, read_organisation, read_patient, read_prescriber
from gateway.domain.identifiers import is_valid_snomed_id
from gateway.domain.model import Action, HomecarePrescription, ServiceType
from gateway.fhir import urls
from gateway.fhir.datatypes import UK_TIME
from gateway.fhir.terminology import HOMECARE_PRESCRIPTION_TYPES

SOURCE_FORMAT = "fhir"
# EPS: "Bundle contains too many resources of type MedicationRequest. Expected at most 4."
MAX_ITEMS = 4
# FHIR carries no trust version; a cancel refers to the prescription, not to a version of it.
RX_VERSION = 1
# No reasonCode: homecare needs an indication, so the gap is said in words rather than left empty (trust warned).
INDICATION_NOT_STATED = "not stated"
_INTENTS = ("order", "original-order", "instance-order")
_SERVICE_TYPE_OF_CODE = {code: ServiceType(name) for name, (code, _) in urls.HOMECARE_SERVICE_TYPES.items()}

Data = dict[str, object]
Located = tuple[Any, str]  # a value and its path relative to the MedicationRequest


def read_prescription(r: Reader, message: MessageBundle, now: datetime) -> ParsedPrescription:
    """The prescription of a prescription message; every problem recorded on `r`, located by FHIRPath."""
    requests = message.of_type("MedicationRequest")
    cancel = message.event == PRESCRIPTION_ORDER_UPDATE
    if not requests:
        r.missing("Bundle.entry", "a prescription message needs at least one MedicationRequest",
                  "one MedicationRequest per item")
        return ParsedPrescription(rx_number="", rx_version=str(RX_VERSION), lines=[], issues=r.issues)
    first = requests[0]
    rx_number = _rx_number(first.resource)
    if len(requests) > MAX_ITEMS:
        r.fail(codes.TOO_MANY_ITEMS, "Bundle.entry", "Bundle contains too many resources of type MedicationRequest",
               value=len(requests), expected=f"at most {MAX_ITEMS}")
    check_group_identifier(r, first)
    _prescription_type(r, first)
    for entry in requests:
        _check_request(r, entry, cancel)
    _check_agreement(r, requests)
    if not cancel:
        _check_course_of_therapy(r, requests)
    data: Data = {"action": Action.CANCEL if cancel else Action.NEW, "rx_number": rx_number,
                  "rx_version": RX_VERSION, "source_format": SOURCE_FORMAT}
    patient = _resolve(r, message, first, "subject", ("Patient",))
    if patient is not None:
        data["patient"] = read_patient(r, patient, now.astimezone(UK_TIME).date())
    requester = _resolve(r, message, first, "requester", ("PractitionerRole", "Practitioner"))
    if requester is not None:
        data["prescriber"] = read_prescriber(r, message, requester)
        organisation = read_organisation(r, message, requester)
        if organisation is not None:
            data.update(trust_ods=organisation.trust_ods, site_code=organisation.site_code)
    data.update(_homecare(r, first))
    data["provider_ods"] = _provider(r, first)
    if cancel:
        data["cancel_reason"] = _cancel_reason(requests)
    data["signed_at"] = _signed_at(r, message, first, now)
    items = [read_item(r, message, entry, line_no) for line_no, entry in enumerate(requests, start=1)]
    data["items"] = items
    prescription = None
    if not r.error_count:
        try:
            prescription = HomecarePrescription.model_validate(data)
        except ValidationError as exc:  # the checks above are meant to make this unreachable
            r.fail(codes.INVALID_PRESCRIPTION, "Bundle", f"not a valid prescription: {exc}")
    return ParsedPrescription(rx_number=rx_number, rx_version=str(RX_VERSION), lines=[],
                              prescription=prescription, issues=r.issues)


def _rx_number(mr: dict[str, Any]) -> str:
    """The trust's own prescription number when the message carries it (ours do), else the short-form id."""
    found = identifier(mr.get("identifier"), urls.TRUST_PRESCRIPTION_NUMBER)
    if found is not None and isinstance(found[1], str) and found[1].strip():
        return found[1].strip()
    short = group_ids(mr)[0]
    return short if isinstance(short, str) else ""


def _prescription_type(r: Reader, entry: Entry) -> None:
    found = extension(entry.resource, urls.EXT_PRESCRIPTION_TYPE)
    coding = found[1].get("valueCoding") if found is not None else None
    code = coding.get("code") if isinstance(coding, dict) else None
    if not isinstance(code, str) or code not in HOMECARE_PRESCRIPTION_TYPES:
        path = f"{entry.path}.extension[{found[0]}].valueCoding.code" if found else f"{entry.path}.extension"
        r.warn(codes.NOT_HOMECARE_PRESCRIPTION_TYPE, path,
               "not an Outpatient Homecare prescription type: the order sent on names the 12xx type of the "
               "prescriber's profession", value=code, expected="one of " + ", ".join(HOMECARE_PRESCRIPTION_TYPES))


def _check_request(r: Reader, entry: Entry, cancel: bool) -> None:
    mr, path = entry.resource, entry.path
    if mr.get("intent") not in _INTENTS:
        r.fail(codes.INVALID_VALUE, f"{path}.intent", "MedicationRequest.intent must be order, original-order or "
               "instance-order", value=mr.get("intent"), expected=", ".join(_INTENTS))
    status = "cancelled" if cancel else "active"
    if mr.get("status") != status:
        what = "a prescription-order-update cancels" if cancel else "a prescription-order orders"
        r.fail(codes.INVALID_VALUE, f"{path}.status", f"{what}: every MedicationRequest must be {status}",
               value=mr.get("status"), expected=status)
    if cancel and _reason_text(mr.get("statusReason")) is None:
        r.missing(f"{path}.statusReason", "a cancellation needs its reason",
                  "a coding of https://fhir.nhs.uk/CodeSystem/medicationrequest-status-reason")


def _ext_value(url: str, key: str) -> Callable[[dict[str, Any]], Located]:
    def read(mr: dict[str, Any]) -> Located:
        found = extension(mr, url)
        return (found[1].get(key), f"extension[{found[0]}].{key}") if found else (None, "extension")
    return read


def _path_value(*keys: str) -> Callable[[dict[str, Any]], Located]:
    def read(mr: dict[str, Any]) -> Located:
        value: Any = mr
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value, ".".join(keys)
    return read


def _trust_number(mr: dict[str, Any]) -> Located:
    found = identifier(mr.get("identifier"), urls.TRUST_PRESCRIPTION_NUMBER)
    return (found[1], f"identifier[{found[0]}].value") if found else (None, "identifier")


# What belongs to the prescription rather than to one item, read from each MedicationRequest.
_SHARED: dict[str, Callable[[dict[str, Any]], Located]] = {
    "the short-form prescription id": _path_value("groupIdentifier", "value"),
    "the long-form prescription id": lambda mr: group_ids(mr)[1:],
    "the patient (subject)": _path_value("subject", "reference"),
    "the prescriber (requester)": _path_value("requester", "reference"),
    "the dispenser (performer)": _path_value("dispenseRequest", "performer", "identifier", "value"),
    "the trust's prescription number": _trust_number,
    "the homecare service type": _ext_value(urls.EXT_HOMECARE_SERVICE_TYPE, "valueCoding"),
    "the delivery address": _ext_value(urls.EXT_HOMECARE_DELIVERY_ADDRESS, "valueAddress"),
    "the delivery instructions": _ext_value(urls.EXT_HOMECARE_DELIVERY_INSTRUCTIONS, "valueString"),
    "the indication (reasonCode)": _path_value("reasonCode"),
}


def _check_agreement(r: Reader, requests: list[Entry]) -> None:
    """Each prescription-level value must be on every MedicationRequest as on the first."""
    first = requests[0]
    for what, read in _SHARED.items():
        expected, expected_path = read(first.resource)
        for entry in requests[1:]:
            value, path = read(entry.resource)
            if value != expected:
                r.fail(codes.INCONSISTENT_VALUE, f"{entry.path}.{path}",
                       f"{what} must be the same on every MedicationRequest of a prescription",
                       value=value, expected=f"{codes.shown(expected)}, as at {first.path}.{expected_path}")


def _check_course_of_therapy(r: Reader, requests: list[Entry]) -> None:
    """EPS: all the same, or a mixture of acute and continuous."""
    found = [_path_value("courseOfTherapyType", "coding")(e.resource)[0] for e in requests]
    kinds = [c[0].get("code") if isinstance(c, list) and c and isinstance(c[0], dict) else None for c in found]
    kinds = [k if isinstance(k, str) else None for k in kinds]
    if len(set(kinds)) == 1 or set(kinds) == {"acute", "continuous"}:
        return
    for entry, kind in zip(requests[1:], kinds[1:], strict=True):
        if kind != kinds[0]:
            r.fail(codes.INCONSISTENT_VALUE, f"{entry.path}.courseOfTherapyType.coding[0].code",
                   "Course of therapy type must either match for all MedicationRequests or be a mixture of 'acute' "
                   "and 'continuous'", value=kind, expected=f"{kinds[0]}, as at {requests[0].path}")


def _resolve(r: Reader, message: MessageBundle, entry: Entry, key: str, types: tuple[str, ...]) -> Entry | None:
    ref = entry.resource.get(key)
    if ref is None:
        r.missing(f"{entry.path}.{key}", f"MedicationRequest.{key} is required", f"a reference to a {types[0]}")
        return None
    target = message.resolve(ref)
    if target is None or target.type not in types:
        r.fail(codes.UNRESOLVED_REFERENCE, f"{entry.path}.{key}.reference",
               f"names no {' or '.join(types)} in this Bundle", value=ref.get("reference") if isinstance(
                   ref, dict) else ref, expected=f"the fullUrl of a {' or '.join(types)} entry")
        return None
    return target


def _homecare(r: Reader, entry: Entry) -> Data:
    """Our homecare extensions and the indication; absent ones take the defaults stated above."""
    mr, path = entry.resource, entry.path
    data: Data = {"service_type": ServiceType.DELIVERY}
    found = extension(mr, urls.EXT_HOMECARE_SERVICE_TYPE)
    if found is not None:
        coding = found[1].get("valueCoding")
        code = coding.get("code") if isinstance(coding, dict) else None
        if isinstance(code, str) and code in _SERVICE_TYPE_OF_CODE:
            data["service_type"] = _SERVICE_TYPE_OF_CODE[code]
        else:
            r.fail(codes.INVALID_CODE, f"{path}.extension[{found[0]}].valueCoding.code", "unknown homecare service",
                   value=code, expected=", ".join(_SERVICE_TYPE_OF_CODE))
    found = extension(mr, urls.EXT_HOMECARE_DELIVERY_ADDRESS)
    if found is not None:
        data["delivery_address"] = address(r, found[1].get("valueAddress"),
                                           f"{path}.extension[{found[0]}].valueAddress", what="the delivery address")
    found = extension(mr, urls.EXT_HOMECARE_DELIVERY_INSTRUCTIONS)
    if found is not None:
        data["delivery_instructions"] = r.string(found[1], "valueString", f"{path}.extension[{found[0]}]")
    data.update(_indication(r, mr, path))
    return data


def _indication(r: Reader, mr: dict[str, Any], path: str) -> Data:
    reasons = mr.get("reasonCode")
    reason = reasons[0] if isinstance(reasons, list) and reasons and isinstance(reasons[0], dict) else None
    text = _reason_text(reason, prefer_text=True)
    if text is None:
        r.warn(codes.DEFAULTED_VALUE, f"{path}.reasonCode",
               f"no indication given: recorded as '{INDICATION_NOT_STATED}'",
               expected="reasonCode with the clinical indication (homecare requires one)")
        return {"indication": INDICATION_NOT_STATED}
    data: Data = {"indication": text}
    codings = reason.get("coding") if reason else None
    for index, coding in enumerate(codings if isinstance(codings, list) else []):
        if isinstance(coding, dict) and coding.get("system") == urls.SNOMED:
            code = coding.get("code")
            if isinstance(code, str) and is_valid_snomed_id(code):
                data["indication_snomed"] = code
            else:
                r.fail(codes.INVALID_SNOMED_CODE, f"{path}.reasonCode[0].coding[{index}].code",
                       "not a SNOMED CT concept id", value=code, expected="6-18 digits with a Verhoeff check digit")
            break
    return data


def _reason_text(concept: Any, *, prefer_text: bool = False) -> str | None:
    """A CodeableConcept in words: coding display (else code), or its text; `prefer_text` puts text first."""
    if not isinstance(concept, dict):
        return None
    text = concept.get("text") if isinstance(concept.get("text"), str) and concept["text"].strip() else None
    if prefer_text and text:
        return str(text).strip()
    codings = concept.get("coding")
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, dict):
            for key in ("display", "code"):
                if isinstance(coding.get(key), str) and coding[key].strip():
                    return str(coding[key]).strip()
    return str(text).strip() if text else None


def _cancel_reason(requests: list[Entry]) -> str | None:
    """The statusReason in words; the distinct reasons of several cancelled items, joined."""
    reasons: list[str] = []
    for entry in requests:
        reason = _reason_text(entry.resource.get("statusReason"))
        if reason is not None and reason not in reasons:
            reasons.append(reason)
    return "; ".join(reasons) or None


def _provider(r: Reader, entry: Entry) -> str | None:
    """dispenseRequest.performer's ODS code; none means the gateway's routing rules choose the provider."""
    dispense = entry.resource.get("dispenseRequest")
    performer = dispense.get("performer") if isinstance(dispense, dict) else None
    if not isinstance(performer, dict) or "identifier" not in performer:
        return None
    return ods_code(r, performer["identifier"], f"{entry.path}.dispenseRequest.performer.identifier")


def _signed_at(r: Reader, message: MessageBundle, first: Entry, now: datetime) -> datetime | None:
    """The prescriber's signature time; else Bundle.timestamp; else authoredOn; else the time received (warned)."""
    requester = first.resource.get("requester")
    signatures: list[tuple[bool, Any, str]] = []
    for entry in message.of_type("Provenance"):
        found = entry.resource.get("signature")
        for index, signature in enumerate(found if isinstance(found, list) else []):
            if isinstance(signature, dict) and "when" in signature:
                who = signature.get("who")
                by_requester = isinstance(who, dict) and isinstance(requester, dict) and who.get(
                    "reference") == requester.get("reference")
                signatures.append((by_requester, signature["when"], f"{entry.path}.signature[{index}].when"))
    if signatures:
        # The prescriber's own signature first: a Provenance the gateway adds later signs the message, not the Rx.
        _, when, path = sorted(signatures, key=lambda s: not s[0])[0]
        return r.datetime_value(when, path, what="the signature time")
    if message.event != PRESCRIPTION_ORDER_UPDATE:  # EPS cancellations are not signed
        r.warn(codes.UNSIGNED_MESSAGE, "Bundle.entry", "no prescriber signature (Provenance.signature) in the message",
               expected="a Provenance with the prescriber's signature, as EPS $process-message requires")
    if "timestamp" in message.raw:
        return r.datetime_value(message.raw["timestamp"], "Bundle.timestamp", what="Bundle.timestamp")
    if "authoredOn" in first.resource:
        return r.datetime_value(first.resource["authoredOn"], f"{first.path}.authoredOn", what="authoredOn")
    r.warn(codes.DEFAULTED_VALUE, "Bundle.timestamp", "no time of signing: the time received is recorded instead",
           expected="Provenance.signature.when, Bundle.timestamp or MedicationRequest.authoredOn")
    return now
