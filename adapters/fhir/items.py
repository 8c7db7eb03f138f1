"""One MedicationRequest to one canonical item: medicine, dosage, quantity, supply duration and deliveries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapters.fhir import issues as codes
from adapters.fhir.bundle import Entry, MessageBundle
from adapters.fhir.issues import Reader
from adapters.fhir.timing import frequency_code
from gateway.domain.identifiers import is_valid_snomed_id
from gateway.domain.model import Item
from gateway.fhir import urls
from gateway.fhir.dispense_schedule import deliveries_from_repeats
from gateway.fhir.dosage import ANCILLARY_TEXT, dosage_text

# When a MedicationRequest gives no dispenseRequest.expectedSupplyDuration (EPS acute examples do not): the NHS
# standard 28-day supply, which is also the usual homecare delivery cycle. The trust is warned.
DEFAULT_DAYS_PER_DELIVERY = 28
MAX_DAYS_PER_DELIVERY = 365
MAX_DELIVERIES = 52
_DAYS_PER_UNIT = {"d": 1, "wk": 7}

Data = dict[str, object]


def extension(resource: Any, url: str) -> tuple[int, dict[str, Any]] | None:
    """The first extension with `url` and its index."""
    found = resource.get("extension") if isinstance(resource, dict) else None
    for index, ext in enumerate(found if isinstance(found, list) else []):
        if isinstance(ext, dict) and ext.get("url") == url:
            return index, ext
    return None


def read_item(r: Reader, bundle: MessageBundle, entry: Entry, line_no: int) -> Data | None:
    """The canonical item of one MedicationRequest, or None when something in it is wrong (each recorded)."""
    before = r.error_count
    mr, path = entry.resource, entry.path
    dmd_code, description = _medication(r, bundle, entry)
    item: Data = {"line_no": line_no, "dmd_code": dmd_code, "description": description}
    item.update(_dosage(r, mr, path))
    dispense = mr.get("dispenseRequest")
    dpath = f"{path}.dispenseRequest"
    if not isinstance(dispense, dict):
        r.missing(dpath, "dispenseRequest is required: it carries the quantity to supply",
                  "dispenseRequest with quantity")
        dispense = {}
    quantity = dispense.get("quantity")
    item["qty_per_delivery"] = r.decimal(quantity, "value", f"{dpath}.quantity", required=True, positive=True,
                                         what="dispenseRequest.quantity.value")
    item["qty_unit"] = r.string(quantity, "unit", f"{dpath}.quantity", required=True,
                                what="dispenseRequest.quantity.unit")
    item["days_per_delivery"] = _days_per_delivery(r, dispense, dpath)
    repeats = r.integer(dispense, "numberOfRepeatsAllowed", dpath, minimum=0,
                        maximum=MAX_DELIVERIES - 1, what="numberOfRepeatsAllowed")
    # Absent: a single supply, as EPS reads a prescription without repeats.
    item["number_of_deliveries"] = 1 if repeats is None else deliveries_from_repeats(repeats)
    first = extension(mr, urls.EXT_HOMECARE_FIRST_DELIVERY_DATE)
    if first is not None:
        item["first_delivery_date"] = r.date_value(
            first[1].get("valueDate"), f"{path}.extension[{first[0]}].valueDate", what="the first delivery date")
    return None if r.error_count > before else item


def _medication(r: Reader, bundle: MessageBundle, entry: Entry) -> tuple[str | None, str | None]:
    """The dm+d code (SNOMED CT coding) and its description, from the CodeableConcept or a referenced Medication."""
    mr, path = entry.resource, entry.path
    concept, cpath = mr.get("medicationCodeableConcept"), f"{path}.medicationCodeableConcept"
    if concept is None and "medicationReference" in mr:
        target = bundle.resolve(mr["medicationReference"])
        if target is None or target.type != "Medication":
            r.fail(codes.UNRESOLVED_REFERENCE, f"{path}.medicationReference.reference",
                   "medicationReference names no Medication in this Bundle",
                   value=_reference(mr["medicationReference"]), expected="the fullUrl of a Medication entry")
            return None, None
        concept, cpath = target.resource.get("code"), f"{target.path}.code"
    codings = concept.get("coding") if isinstance(concept, dict) else None
    for index, coding in enumerate(codings if isinstance(codings, list) else []):
        if not isinstance(coding, dict) or coding.get("system") != urls.SNOMED:
            continue
        code = coding.get("code")
        if not isinstance(code, str) or not is_valid_snomed_id(code):
            r.fail(codes.INVALID_DMD_CODE, f"{cpath}.coding[{index}].code",
                   "not a dm+d code: a SNOMED CT concept id has 6-18 digits and a Verhoeff check digit", value=code,
                   expected="a dm+d VMP or AMP concept id with a valid Verhoeff check digit")
            return None, None
        description = r.string(coding, "display", f"{cpath}.coding[{index}]") or r.string(concept, "text", cpath)
        if description is None:
            r.missing(f"{cpath}.coding[{index}].display", "the medicine's description is required",
                      "the dm+d description")
        return code, description
    r.missing(f"{cpath}.coding", "the medicine must be coded in dm+d",
              f"a coding with system {urls.SNOMED} and a dm+d code")
    return None, None


def _dosage(r: Reader, mr: dict[str, Any], path: str) -> Data:
    """Dose, frequency (a JAC code when the timing means exactly one, else the dosage text), route, instructions."""
    dosages = mr.get("dosageInstruction")
    if not isinstance(dosages, list) or not dosages:
        return {}
    dosage, dpath = dosages[0], f"{path}.dosageInstruction[0]"
    if not isinstance(dosage, dict):
        r.fail(codes.INVALID_VALUE, dpath, "a dosageInstruction must be a Dosage", expected="a Dosage object")
        return {}
    text = r.string(dosage, "text", dpath)
    data: Data = {}
    rates = dosage.get("doseAndRate")
    first_rate = rates[0] if isinstance(rates, list) and rates else None
    quantity = first_rate.get("doseQuantity") if isinstance(first_rate, dict) else None
    if isinstance(quantity, dict):
        qpath = f"{dpath}.doseAndRate[0].doseQuantity"
        data["dose"] = r.decimal(quantity, "value", qpath, required=True, positive=True, what="the dose")
        # UCUM's code is what trusts write (mg, mL); the unit text is the fallback for dm+d units (tablet).
        ucum = r.string(quantity, "code", qpath) if quantity.get("system") == urls.UCUM else None
        data["dose_unit"] = ucum or r.string(quantity, "unit", qpath)
    data["route"] = _concept_text(dosage.get("route"))
    notes = [r.string(dosage, "patientInstruction", dpath)]
    additional = dosage.get("additionalInstruction")
    for concept in additional if isinstance(additional, list) else []:
        notes.append(_concept_text(concept))
    data["instructions"] = ". ".join(n for n in notes if n) or None
    if len(dosages) > 1:
        # Sequential dosages have no single frequency code: the texts, in order, say it.
        texts = [d["text"].strip() for d in dosages if isinstance(d, dict) and isinstance(d.get("text"), str)]
        data["frequency"] = "; then ".join(t for t in texts if t) or None
    elif (code := frequency_code(dosage)) is not None:
        data["frequency"] = code
    elif text == ANCILLARY_TEXT and "dose" not in data and "timing" not in dosage:
        data["is_ancillary"] = True
    elif text is not None:
        data["frequency"] = _written_frequency(text, data, r.string(dosage, "patientInstruction", dpath))
    return data


def _written_frequency(text: str, data: Data, instruction: str | None) -> str | None:
    """The frequency words of a dosage text; when the text has the layout `gateway.fhir.dosage` writes
    (`<dose>, <route>, <frequency>. <instructions>`), only the frequency part, so a resend does not repeat the rest.
    """
    dose, unit, route = data.get("dose"), data.get("dose_unit"), data.get("route")
    # Only dose, unit and route shape the text's head; the other fields are placeholders.
    probe = Item(line_no=1, dmd_code="", description="", qty_per_delivery=Decimal(1), qty_unit="", days_per_delivery=1,
                 number_of_deliveries=1, dose=dose if isinstance(dose, Decimal) else None,
                 dose_unit=unit if isinstance(unit, str) else None, route=route if isinstance(route, str) else None)
    head = dosage_text(probe, None) if probe.dose is not None or probe.route else ""
    body = text
    if instruction:
        if body == instruction:
            return None
        if not body.endswith(f". {instruction}"):
            return text
        body = body[: -len(instruction) - 2]
    if head:
        if body == head:
            return None
        if not body.startswith(f"{head}, "):
            return text
        body = body[len(head) + 2:]
    return body or None


def _concept_text(concept: Any) -> str | None:
    """A CodeableConcept as words: its first coding's display, else its text."""
    if not isinstance(concept, dict):
        return None
    codings = concept.get("coding")
    for coding in codings if isinstance(codings, list) else []:
        display = coding.get("display") if isinstance(coding, dict) else None
        if isinstance(display, str) and display.strip():
            return display.strip()
    text = concept.get("text")
    return text.strip() if isinstance(text, str) and text.strip() else None


def _days_per_delivery(r: Reader, dispense: dict[str, Any], dpath: str) -> int | None:
    duration = dispense.get("expectedSupplyDuration")
    spath = f"{dpath}.expectedSupplyDuration"
    if duration is None:
        r.warn(codes.DEFAULTED_VALUE, spath,
               f"no expected supply duration: each delivery is taken to last {DEFAULT_DAYS_PER_DELIVERY} days",
               expected="a Duration in days, e.g. {\"value\": 28, \"unit\": \"day\", \"code\": \"d\"}")
        return DEFAULT_DAYS_PER_DELIVERY
    unit = duration.get("code") if isinstance(duration, dict) else None
    if not isinstance(unit, str) or unit not in _DAYS_PER_UNIT:
        r.fail(codes.INVALID_CODE, f"{spath}.code", "the supply duration must be in days or weeks", value=unit,
               expected="UCUM d or wk")
        return None
    value = r.integer(duration, "value", spath, minimum=1, what="expectedSupplyDuration.value")
    if value is None:
        if "value" not in duration:
            r.missing(f"{spath}.value", "expectedSupplyDuration.value is required", "an integer number of days")
        return None
    days = value * _DAYS_PER_UNIT[unit]
    if days > MAX_DAYS_PER_DELIVERY:
        r.fail(codes.OUT_OF_RANGE, f"{spath}.value", "one delivery may last at most 365 days", value=value,
               expected=f"at most {MAX_DAYS_PER_DELIVERY} days")
        return None
    return days


def _reference(ref: Any) -> object:
    return ref.get("reference") if isinstance(ref, dict) else ref
