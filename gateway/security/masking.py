"""Masking patient data for operators: the NHS number, name, date of birth, address and contact details.

Raw payloads come in many formats (CSV, XML, HL7 v2, FHIR), so masking works on values, not on structure:
every patient of the payload is known from its sealed canonical prescriptions, and each of their values is
blanked wherever it appears, in any of the spellings the formats use. Anything else that looks like a valid
NHS number is blanked too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
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
    """`text` with every value blanked (the longest at each position, case-insensitive), and any valid NHS number.

    Linear: the values go into a trie (one dict per character) and `text` is read once, following the trie from each
    position for at most the length of the longest value. One regex alternation of every value (75,000 of them for a
    5,000-prescription export) made the message page block for minutes, and so does compiling a trie-shaped regex."""
    trie = _trie(values)
    if trie:
        text = "".join(_masked(text, trie))
    return _NHS_LIKE.sub(lambda m: MASK if is_valid_nhs_number("".join(m.groups())) else m.group(0), text)


_Node = dict[str, "_Node"]
_END: Final = ""  # a key no character equals: a value ends at this node


def _fold(text: str) -> str:
    """`text` lower-cased character by character, keeping its length (so positions carry over to the original)."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _trie(values: Iterable[str]) -> _Node:
    root: _Node = {}
    for value in values:
        if not value:
            continue
        node = root
        for char in _fold(value):
            node = node.setdefault(char, {})
        node[_END] = {}
    return root


def _masked(text: str, trie: _Node) -> Iterator[str]:
    """The pieces of `text` with each leftmost-longest occurrence of a trie value replaced by MASK."""
    folded = _fold(text)
    size, position, kept = len(text), 0, 0
    while position < size:
        start = trie.get(folded[position])
        if start is None:
            position += 1
            continue
        node = start
        end = position + 1 if _END in node else 0
        cursor = position + 1
        while cursor < size:
            deeper = node.get(folded[cursor])
            if deeper is None:
                break
            node, cursor = deeper, cursor + 1
            if _END in node:
                end = cursor
        if end:
            yield text[kept:position]
            yield MASK
            position = kept = end
        else:
            position += 1
    yield text[kept:]


# Why an auditor unmasks: codes, not free text, so that the audit trail never holds patient data.
UNMASK_REASONS: Final = {
    "clinical-query": "a clinical query about this patient",
    "delivery-problem": "a delivery problem needs the patient's details",
    "data-quality": "checking the data received from the trust",
    "incident": "investigating an incident or complaint",
    "audit-review": "reviewing access as an auditor",
}
