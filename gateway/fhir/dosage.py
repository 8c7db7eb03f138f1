"""Dosage for one prescription item: readable text as printed on a prescription, plus the structured Dosage."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gateway.domain.model import Item
from gateway.fhir import urls
from gateway.fhir.terminology import ROUTES, UCUM_DOSE_UNITS

ANCILLARY_TEXT = "Ancillary item for use with the medicines on this prescription"
# Only reached when an adapter lets a medicine through without dose, frequency or instructions.
AS_DIRECTED_TEXT = "As directed"

_EVERY_RE = re.compile(r"^EVERY\s+(\d{1,3})\s+(DAY|DAYS|WEEK|WEEKS|MONTH|MONTHS)$")
_PERIOD_UNITS = {"DAY": ("d", "day"), "WEEK": ("wk", "week"), "MONTH": ("mo", "month")}
_CODES: dict[str, tuple[str, dict[str, Any]]] = {
    "OD": ("once a day", {"frequency": 1, "period": 1, "periodUnit": "d"}),
    "BD": ("twice a day", {"frequency": 2, "period": 1, "periodUnit": "d"}),
    "TDS": ("three times a day", {"frequency": 3, "period": 1, "periodUnit": "d"}),
    "QDS": ("four times a day", {"frequency": 4, "period": 1, "periodUnit": "d"}),
    "OW": ("once a week", {"frequency": 1, "period": 1, "periodUnit": "wk"}),
    "STAT": ("once only, immediately", {"count": 1}),
}


@dataclass(frozen=True, slots=True)
class Frequency:
    """What a frequency code means: unabbreviated text, a Timing.repeat (None for free text or PRN alone), PRN."""

    text: str
    repeat: dict[str, Any] | None = field(default=None)
    as_needed: bool = False


def parse_frequency(raw: str | None) -> Frequency | None:
    """`EVERY 14 DAYS` → every 14 days (1 per 14 d); `BD PRN` → twice a day when required; anything else is text."""
    if raw is None or not raw.strip():
        return None
    code = " ".join(raw.upper().split())
    if code == "PRN":
        return Frequency("when required", None, as_needed=True)
    if code.endswith(" PRN"):
        base = parse_frequency(code[:-4])
        if base is not None and base.repeat is not None:
            return Frequency(f"{base.text} when required", base.repeat, as_needed=True)
        return Frequency(raw.strip())
    if code in _CODES:
        text, repeat = _CODES[code]
        return Frequency(text, dict(repeat))
    match = _EVERY_RE.match(code)
    if match and int(match.group(1)) > 0:
        n = int(match.group(1))
        unit, word = _PERIOD_UNITS[match.group(2).rstrip("S")]
        text = f"every {word}" if n == 1 else f"every {n} {word}s"
        return Frequency(text, {"frequency": 1, "period": n, "periodUnit": unit})
    return Frequency(raw.strip())


def plain_decimal(value: Decimal) -> str:
    """A decimal for reading: no exponent, no trailing zeros (`40.0` → `40`, `0.40` → `0.4`)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def route_coding(route: str) -> tuple[str, str] | None:
    """SNOMED CT code and display for a route the trust wrote, when it is one we know."""
    return ROUTES.get(" ".join(route.lower().split()))


def dose_quantity(item: Item) -> dict[str, Any] | None:
    """Dosage.doseAndRate.doseQuantity: the exact Decimal, with UCUM when the unit is one UCUM has."""
    if item.dose is None:
        return None
    quantity: dict[str, Any] = {"value": item.dose}
    if item.dose_unit:
        ucum = UCUM_DOSE_UNITS.get(item.dose_unit.strip().lower())
        if ucum is None:
            quantity["unit"] = item.dose_unit
        else:
            quantity.update(unit=ucum[1], system=urls.UCUM, code=ucum[0])
    return quantity


def dosage_text(item: Item, frequency: Frequency | None) -> str:
    """Readable, unabbreviated: `0.4 millilitre, Subcutaneous route, every 14 days. Store in a refrigerator`."""
    parts: list[str] = []
    if item.dose is not None:
        unit = ""
        if item.dose_unit:
            ucum = UCUM_DOSE_UNITS.get(item.dose_unit.strip().lower())
            unit = ucum[1] if ucum else item.dose_unit.strip()
        parts.append(f"{plain_decimal(item.dose)} {unit}".rstrip())
    if item.route:
        coded = route_coding(item.route)
        parts.append(coded[1] if coded else item.route.strip())
    if frequency is not None:
        parts.append(frequency.text)
    text = ", ".join(parts)
    instructions = (item.instructions or "").strip()
    if text and instructions:
        return f"{text}. {instructions}"
    if text or instructions:
        return text or instructions
    return ANCILLARY_TEXT if item.is_ancillary else AS_DIRECTED_TEXT


def dosage_instruction(item: Item) -> dict[str, Any]:
    """One R4 Dosage for the item, as a JSON-ready dict (Decimals kept)."""
    frequency = parse_frequency(item.frequency)
    dosage: dict[str, Any] = {"text": dosage_text(item, frequency)}
    if item.instructions and item.instructions.strip():
        dosage["patientInstruction"] = item.instructions.strip()
    if frequency is not None and frequency.repeat is not None:
        dosage["timing"] = {"repeat": frequency.repeat}
    if frequency is not None and frequency.as_needed:
        dosage["asNeededBoolean"] = True
    if item.route and item.route.strip():
        coded = route_coding(item.route)
        if coded is None:
            dosage["route"] = {"text": item.route.strip()}
        else:
            dosage["route"] = {"coding": [{"system": urls.SNOMED, "code": coded[0], "display": coded[1]}]}
    quantity = dose_quantity(item)
    if quantity is not None:
        dosage["doseAndRate"] = [{"doseQuantity": quantity}]
    return dosage
