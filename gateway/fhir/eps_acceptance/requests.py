"""EPS acceptance of the MedicationRequests of one prescription (bundle-validator.ts, prescription.ts, line-item.ts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gateway.errors import Issue
from gateway.fhir import urls
from gateway.fhir.dmd_units import is_dmd_unit_code
from gateway.fhir.eps_acceptance import rules as r
from gateway.fhir.eps_acceptance.context import Message, as_dict, as_list, canonical, extensions, identifiers

REPEAT_DISPENSING: Final = "continuous-repeat-dispensing"
COURSE_SYSTEMS: Final[dict[str, str]] = {
    "acute": urls.HL7_COURSE_OF_THERAPY,
    "continuous": urls.HL7_COURSE_OF_THERAPY,
    REPEAT_DISPENSING: urls.MEDICATIONREQUEST_COURSE_OF_THERAPY,
}
_ORDER_INTENTS: Final = ("order", "original-order", "instance-order")

Request = tuple[int, dict[str, Any]]

# The elements EPS compares across the MedicationRequests of one prescription; (label, reader).
_IDENTICAL: Final[tuple[tuple[str, Any], ...]] = (
    ("groupIdentifier", lambda m: m.get("groupIdentifier")),
    ("category", lambda m: m.get("category")),
    ("authoredOn", lambda m: m.get("authoredOn")),
    ("subject", lambda m: m.get("subject")),
    ("requester", lambda m: m.get("requester")),
    ("dispenseRequest.performer", lambda m: as_dict(m.get("dispenseRequest")).get("performer")),
    ("dispenseRequest.validityPeriod", lambda m: as_dict(m.get("dispenseRequest")).get("validityPeriod")),
    (
        "dispenseRequest.expectedSupplyDuration",
        lambda m: as_dict(m.get("dispenseRequest")).get("expectedSupplyDuration"),
    ),
    (
        "dispenseRequest.extension('Extension-DM-PerformerSiteType')",
        lambda m: extensions(as_dict(m.get("dispenseRequest")), urls.EXT_PERFORMER_SITE_TYPE),
    ),
    ("extension('Extension-DM-PrescriptionType')", lambda m: extensions(m, urls.EXT_PRESCRIPTION_TYPE)),
    ("extension('Extension-DM-ResponsiblePractitioner')", lambda m: extensions(m, urls.EXT_RESPONSIBLE_PRACTITIONER)),
)


def _repeats(request: dict[str, Any]) -> Any:
    return as_dict(request.get("dispenseRequest")).get("numberOfRepeatsAllowed")


def course_codes(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in as_list(as_dict(request.get("courseOfTherapyType")).get("coding")) if isinstance(c, dict)]


def is_repeat_dispensing(requests: list[Request]) -> bool:
    return any(c.get("code") == REPEAT_DISPENSING for _, m in requests for c in course_codes(m))


def identical_for_all(message: Message, requests: list[Request]) -> Iterator[Issue]:
    """verifyIdenticalForAllMedicationRequests, for each element EPS compares."""
    readers = list(_IDENTICAL)
    if is_repeat_dispensing(requests):
        readers.append(
            (
                "dispenseRequest.numberOfRepeatsAllowed",
                lambda m: as_dict(m.get("dispenseRequest")).get("numberOfRepeatsAllowed"),
            )
        )
    for label, read in readers:
        first_index, first = requests[0]
        first_value = canonical(read(first))
        for index, request in requests[1:]:
            if canonical(read(request)) != first_value:
                rule = r.REPEATS_IDENTICAL if label.endswith("numberOfRepeatsAllowed") else r.IDENTICAL
                yield rule.issue(
                    f"{message.path(index)}.{label}",
                    f"{label} differs from {message.path(first_index)}: every MedicationRequest of one prescription "
                    "must have the same value",
                )
                break


def common_rules(message: Message, requests: list[Request]) -> Iterator[Issue]:
    """verifyCommonBundle: intent, one medication choice; verifyPrescriptionBundle: unique line-item ids."""
    seen: dict[str, int] = {}
    for index, request in requests:
        here = message.path(index)
        if request.get("intent") not in _ORDER_INTENTS:
            yield r.INTENT.issue(f"{here}.intent", value=str(request.get("intent")))
        if "medicationCodeableConcept" in request and "medicationReference" in request:
            yield r.MEDICATION_CHOICE.issue(here)
        line_ids = identifiers(request, urls.PRESCRIPTION_ORDER_ITEM_NUMBER)
        if len(line_ids) != 1:
            yield r.LINE_ITEM_ID.issue(f"{here}.identifier", value=str(len(line_ids)))
            continue
        value = str(line_ids[0].get("value"))
        if value in seen:
            yield r.UNIQUE_ITEM.issue(f"{here}.identifier", value=value)
        seen[value] = index


def prescription_rules(message: Message, requests: list[Request]) -> Iterator[Issue]:
    """What prescription.ts and course-of-therapy-type.ts read from the items to build the HL7 v3 prescription."""
    first_index, first = requests[0]
    here = message.path(first_index)
    group = as_dict(first.get("groupIdentifier"))
    if not group.get("value") or len(extensions(group, urls.EXT_PRESCRIPTION_ID)) != 1:
        yield r.PRESCRIPTION_ID.issue(f"{here}.groupIdentifier")
    if len(extensions(first, urls.EXT_PRESCRIPTION_TYPE)) != 1:
        yield r.EXTENSION_ONCE.issue(f"{here}.extension('Extension-DM-PrescriptionType')")
    if len(extensions(as_dict(first.get("dispenseRequest")), urls.EXT_PERFORMER_SITE_TYPE)) != 1:
        yield r.EXTENSION_ONCE.issue(f"{here}.dispenseRequest.extension('Extension-DM-PerformerSiteType')")
    codes: set[str] = set()
    for index, request in requests:
        codings = course_codes(request)
        if not codings:
            yield r.COURSE_OF_THERAPY.issue(f"{message.path(index)}.courseOfTherapyType")
        for coding in codings:
            code = str(coding.get("code"))
            codes.add(code)
            expected = COURSE_SYSTEMS.get(code)
            if expected is None:
                yield r.COURSE_OF_THERAPY.issue(f"{message.path(index)}.courseOfTherapyType.coding", value=code)
            elif coding.get("system") != expected:
                yield r.COURSE_OF_THERAPY_SYSTEM.issue(
                    f"{message.path(index)}.courseOfTherapyType.coding.system", value=str(coding.get("system"))
                )
    if len(codes) > 1 and codes != {"acute", "continuous"}:
        yield r.COURSE_OF_THERAPY.issue(f"{here}.courseOfTherapyType", value=", ".join(sorted(codes)))
    if is_repeat_dispensing(requests):
        yield from _repeat_dispensing(here, as_dict(first.get("dispenseRequest")))


def _repeat_dispensing(here: str, dispense: dict[str, Any]) -> Iterator[Issue]:
    validity = as_dict(dispense.get("validityPeriod"))
    if not validity.get("start") or not validity.get("end"):
        yield r.VALIDITY_PERIOD.issue(f"{here}.dispenseRequest.validityPeriod")
    duration = as_dict(dispense.get("expectedSupplyDuration"))
    if not duration or duration.get("code") != "d":
        yield r.SUPPLY_DURATION.issue(f"{here}.dispenseRequest.expectedSupplyDuration")
    repeats = dispense.get("numberOfRepeatsAllowed")
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        yield r.REPEATS_REQUIRED.issue(f"{here}.dispenseRequest.numberOfRepeatsAllowed", value=str(repeats))


def line_item_rules(message: Message, requests: list[Request]) -> Iterator[Issue]:
    """line-item.ts: quantity with its unit code, the medication's SNOMED coding, dosage text."""
    for index, request in requests:
        here = message.path(index)
        quantity = as_dict(as_dict(request.get("dispenseRequest")).get("quantity"))
        if quantity.get("value") is None or not quantity.get("unit") or not quantity.get("code"):
            yield r.QUANTITY_CODE.issue(f"{here}.dispenseRequest.quantity", value=str(quantity.get("unit")))
        elif quantity.get("system") != urls.SNOMED or not is_dmd_unit_code(str(quantity.get("code"))):
            yield r.DMD_UNIT.issue(f"{here}.dispenseRequest.quantity.code", value=str(quantity.get("code")))
        concept = as_dict(request.get("medicationCodeableConcept"))
        if "medicationReference" not in request:
            snomed = [c for c in as_list(concept.get("coding")) if as_dict(c).get("system") == urls.SNOMED]
            if len(snomed) != 1:
                yield r.MEDICATION_CODING.issue(f"{here}.medicationCodeableConcept.coding")
        dosages = [as_dict(d) for d in as_list(request.get("dosageInstruction"))]
        if len(dosages) == 1 and not dosages[0].get("text"):
            yield r.DOSAGE_TEXT.issue(f"{here}.dosageInstruction[0].text")
        elif len(dosages) != 1 and (not dosages or any("sequence" not in d for d in dosages)):
            yield r.DOSAGE_TEXT.issue(f"{here}.dosageInstruction")


def status_rules(message: Message, requests: list[Request], status: str) -> Iterator[Issue]:
    for index, request in requests:
        if request.get("status") != status:
            yield r.STATUS.issue(f"{message.path(index)}.status", value=str(request.get("status")))
