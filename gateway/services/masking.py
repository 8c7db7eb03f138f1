"""Masking patient data for operators: the NHS number, name, date of birth, address and contact details.

Raw payloads come in many formats (CSV, XML, HL7 v2, FHIR), so masking works on values, not on structure:
every patient of the payload is known from its sealed canonical prescriptions, and each of their values is
blanked wherever it appears, in any of the spellings the formats use. Anything else that looks like a valid
NHS number is blanked too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from gateway.domain.identifiers import is_valid_nhs_number
from gateway.domain.model import Patient

MASK: Final = "•••"
_NHS_LIKE: Final = re.compile(r"(?<![0-9])([0-9]{3})[ -]?([0-9]{3})[ -]?([0-9]{4})(?![0-9])")


@dataclass(frozen=True, slots=True)
class PatientView:
    """What the console shows of a patient: masked unless unmasked by a permitted, audited request."""

    nhs_number: str
    name: str
    birth_date: str
    address: str
    masked: bool

    def as_json(self) -> dict[str, object]:
        return {
            "nhs_number": self.nhs_number,
            "name": self.name,
            "birth_date": self.birth_date,
            "address": self.address,
            "masked": self.masked,
        }


def patient_view(patient: Patient | None, *, unmasked: bool) -> PatientView:
    if patient is None:
        return PatientView("—", "—", "—", "—", masked=not unmasked)
    if not unmasked:
        return PatientView(MASK, MASK, MASK, MASK, masked=True)
    n = patient.nhs_number
    name = " ".join(filter(None, (patient.title, *patient.given, patient.family.upper())))
    address = ", ".join((*patient.address.lines, patient.address.postcode))
    return PatientView(f"{n[:3]} {n[3:6]} {n[6:]}", name, patient.birth_date.isoformat(), address, masked=False)


def patient_values(patient: Patient) -> set[str]:
    """Every spelling of this patient's identifying values that a payload may hold."""
    d = patient.birth_date
    n = patient.nhs_number
    values = {
        n,
        f"{n[:3]} {n[3:6]} {n[6:]}",
        f"{n[:3]}-{n[3:6]}-{n[6:]}",
        patient.family,
        *patient.given,
        d.isoformat(),
        d.strftime("%Y%m%d"),
        d.strftime("%d/%m/%Y"),
        d.strftime("%d-%m-%Y"),
        d.strftime("%d.%m.%Y"),
        patient.address.postcode,
        patient.address.postcode.replace(" ", ""),
        *patient.address.lines,
    }
    for optional in (patient.hospital_number, patient.phone, patient.mobile, patient.email):
        if optional:
            values.add(optional)
    return {v for v in values if len(v.strip()) >= 2}


def mask_text(text: str, values: Iterable[str]) -> str:
    """`text` with every value blanked (longest first, case-insensitive), and any valid NHS number too."""
    ordered = sorted(set(values), key=len, reverse=True)
    if ordered:
        pattern = re.compile("|".join(re.escape(v) for v in ordered), re.IGNORECASE)
        text = pattern.sub(MASK, text)
    return _NHS_LIKE.sub(lambda m: MASK if is_valid_nhs_number("".join(m.groups())) else m.group(0), text)
