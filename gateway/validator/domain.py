"""NHS and EPS rules no profile can express: identifier check digits and one prescription's consistency.

Hooks run on every Identifier and Coding the walker meets; `prescription_consistency` is a Bundle rule over the
MedicationRequests of one message, as EPS applies them (same prescription, patient, prescriber and type).
"""

from __future__ import annotations

from typing import Any

from gateway.domain.identifiers import is_valid_nhs_number
from gateway.fhir import urls
from gateway.validator import issues as codes
from gateway.validator.check_digits import is_valid_short_form_id, verhoeff_valid
from gateway.validator.context import Context
from gateway.validator.model import Element

_SNOMED_ID_LENGTHS = range(6, 19)


def identifier_hook(item: dict[str, Any], path: str, element: Element, ctx: Context) -> None:
    system = item.get("system")
    value = item.get("value")
    if type(value) is not str:
        return
    if system == urls.NHS_NUMBER:
        if not is_valid_nhs_number(value) or len(value) != 10:
            ctx.add(codes.INVALID_NHS_NUMBER, "not a valid NHS number (10 digits, Modulus 11 check digit)",
                    path + ".value", element, value=value)
    elif system == urls.PRESCRIPTION_ORDER_NUMBER and not is_valid_short_form_id(value):
        ctx.add(codes.INVALID_SHORT_FORM_ID, "not a valid EPS short-form prescription id (XXXXXX-XXXXXX-XXXXXC, "
                "ISO/IEC 7064 MOD 37-2 check character)", path + ".value", element, value=value)


def coding_hook(item: dict[str, Any], path: str, element: Element, ctx: Context) -> None:
    if item.get("system") != urls.SNOMED:
        return
    code = item.get("code")
    if type(code) is not str or not code.isascii() or not code.isdigit():
        return  # post-coordinated expressions are not concept ids
    if len(code) in _SNOMED_ID_LENGTHS and code[0] != "0" and verhoeff_valid(code):
        return
    if ".medication" in path or path.startswith("Medication"):
        ctx.add(codes.INVALID_DMD_CHECK_DIGIT, "not a valid dm+d / SNOMED CT concept id (6-18 digits, Verhoeff "
                "check digit)", path + ".code", element, value=code)
    else:
        ctx.add(codes.INVALID_SNOMED_CHECK_DIGIT, "not a valid SNOMED CT concept id (6-18 digits, Verhoeff check "
                "digit)", path + ".code", element, value=code)


def _prescription_type(request: dict[str, Any]) -> Any:
    for extension in request.get("extension", ()):
        if type(extension) is dict and extension.get("url") == urls.EXT_PRESCRIPTION_TYPE:
            coding = extension.get("valueCoding")
            return coding.get("code") if type(coding) is dict else None
    return None


def _group(request: dict[str, Any]) -> Any:
    group = request.get("groupIdentifier")
    if type(group) is not dict:
        return None
    long_form = None
    for extension in group.get("extension", ()):
        if type(extension) is dict and extension.get("url") == urls.EXT_PRESCRIPTION_ID:
            identifier = extension.get("valueIdentifier")
            long_form = identifier.get("value") if type(identifier) is dict else None
    return (group.get("system"), group.get("value"), long_form)


def _reference(request: dict[str, Any], name: str) -> Any:
    value = request.get(name)
    if type(value) is not dict:
        return None
    return value.get("reference") or repr(sorted(value.get("identifier", {}).items()))


def _course_of_therapy(request: dict[str, Any]) -> Any:
    concept = request.get("courseOfTherapyType")
    codings = concept.get("coding") if type(concept) is dict else None
    if type(codings) is list and codings and type(codings[0]) is dict:
        return codings[0].get("code")
    return None


def _performer(request: dict[str, Any]) -> Any:
    dispense = request.get("dispenseRequest")
    performer = dispense.get("performer") if type(dispense) is dict else None
    if type(performer) is not dict:
        return None
    identifier = performer.get("identifier")
    return identifier.get("value") if type(identifier) is dict else performer.get("reference")


# (what must agree, how to read it, where to point, code)
_RULES = (
    ("groupIdentifier", _group, "groupIdentifier", codes.INCONSISTENT_GROUP_IDENTIFIER),
    ("subject", lambda r: _reference(r, "subject"), "subject", codes.INCONSISTENT_SUBJECT),
    ("requester", lambda r: _reference(r, "requester"), "requester", codes.INCONSISTENT_REQUESTER),
    ("prescription type", _prescription_type, "extension", codes.INCONSISTENT_PRESCRIPTION_TYPE),
    ("nominated dispenser", _performer, "dispenseRequest.performer", codes.INCONSISTENT_PERFORMER),
)
# EPS allows a mixture of acute and continuous items; any other mixture of courses of therapy is refused.
_MIXABLE = frozenset({"acute", "continuous"})


def _message_entries(bundle: dict[str, Any], resource_type: str) -> list[tuple[int, dict[str, Any]]]:
    """(entry index, resource) of each entry of `resource_type` in a message Bundle; [] for other Bundles."""
    if bundle.get("type") != "message" or type(bundle.get("entry")) is not list:
        return []
    return [
        (index, entry["resource"])
        for index, entry in enumerate(bundle["entry"])
        if type(entry) is dict and type(entry.get("resource")) is dict
        and entry["resource"].get("resourceType") == resource_type
    ]


def prescription_consistency(bundle: dict[str, Any], path: str, ctx: Context) -> None:
    """Every MedicationRequest of a message Bundle belongs to one prescription, as EPS requires."""
    requests = _message_entries(bundle, "MedicationRequest")
    if len(requests) < 2:
        return
    first_index, first = requests[0]
    for what, read, element_path, code in _RULES:
        expected = read(first)
        for index, request in requests[1:]:
            if read(request) != expected:
                ctx.add(code, f"every MedicationRequest of one prescription must have the same {what} (differs "
                        f"from entry[{first_index}])", f"{path}.entry[{index}].resource.{element_path}",
                        value=str(read(request)), expected=str(expected), profile=_MEDICATION_REQUEST)
    courses = {_course_of_therapy(r) for _, r in requests}
    if len(courses) > 1 and not courses <= _MIXABLE:
        for index, request in requests[1:]:
            if _course_of_therapy(request) != _course_of_therapy(first):
                ctx.add(codes.INCONSISTENT_COURSE_OF_THERAPY, "courses of therapy must match across the "
                        "prescription, or be a mixture of acute and continuous",
                        f"{path}.entry[{index}].resource.courseOfTherapyType",
                        value=str(_course_of_therapy(request)), expected=str(_course_of_therapy(first)),
                        profile=_MEDICATION_REQUEST)


_MEDICATION_REQUEST = "http://hl7.org/fhir/StructureDefinition/MedicationRequest"
_MEDICATION_DISPENSE = "http://hl7.org/fhir/StructureDefinition/MedicationDispense"
_EXT_NON_DISPENSING_REASON = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionNonDispensingReason"
_EXT_REPEAT_INFORMATION = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-RepeatInformation"


def _extension_value(resource: dict[str, Any], url: str) -> Any:
    for extension in resource.get("extension", ()):
        if type(extension) is dict and extension.get("url") == url:
            return repr({k: v for k, v in extension.items() if k != "url"})
    return None


def _dispense_subject(dispense: dict[str, Any]) -> Any:
    subject = dispense.get("subject")
    identifier = subject.get("identifier") if type(subject) is dict else None
    return identifier.get("value") if type(identifier) is dict else None


def _dispense_performer(dispense: dict[str, Any]) -> Any:
    performers = dispense.get("performer")
    first = performers[0] if type(performers) is list and performers and type(performers[0]) is dict else {}
    actor = first.get("actor")
    return repr(actor) if actor is not None else None


# EPS: what every MedicationDispense of one dispense notification must agree on (validation/bundle-validator.ts
# verifyDispenseBundle, and the prescription-level non-dispensing reason of translation/request/dispense/
# dispense-notification.ts).
_DISPENSE_RULES = (
    ("whenHandedOver", lambda d: d.get("whenHandedOver"), "whenHandedOver"),
    ("patient (subject.identifier.value)", _dispense_subject, "subject.identifier.value"),
    ("repeat information", lambda d: _extension_value(d, _EXT_REPEAT_INFORMATION), "extension"),
    ("non-dispensing reason", lambda d: _extension_value(d, _EXT_NON_DISPENSING_REASON), "extension"),
    ("performer", _dispense_performer, "performer[0].actor"),
)


def dispense_consistency(bundle: dict[str, Any], path: str, ctx: Context) -> None:
    """Every MedicationDispense of a dispense notification agrees on what belongs to the whole dispensing event."""
    dispenses = _message_entries(bundle, "MedicationDispense")
    if len(dispenses) < 2:
        return
    first_index, first = dispenses[0]
    for what, read, element_path in _DISPENSE_RULES:
        expected = read(first)
        for index, dispense in dispenses[1:]:
            if read(dispense) != expected:
                ctx.add(codes.INCONSISTENT_DISPENSE, f"Expected all MedicationDispenses to have the same value for "
                        f"{what} (differs from entry[{first_index}])", f"{path}.entry[{index}].resource.{element_path}",
                        value=str(read(dispense)), expected=str(expected), profile=_MEDICATION_DISPENSE)
