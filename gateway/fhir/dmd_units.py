"""dm+d units of measure for dispensed quantities: the trust's word → the SNOMED CT unit EPS reads.

The table is `fhir_profiles/ValueSet/dmd-unit-of-measure.json` (SNOMED CT concepts with the dm+d description as
display and the words trusts write as Synonym designations), so the mapper, the EPS acceptance check and the
validator read one list. An unknown unit is a located error naming the nearest dm+d units.
"""

from __future__ import annotations

import difflib
import functools
import json
from dataclasses import dataclass
from typing import Any

from fhir_profiles import PACKAGE_DIR
from gateway.errors import Issue, Location

VALUE_SET_PATH = PACKAGE_DIR / "ValueSet" / "dmd-unit-of-measure.json"
UNKNOWN_UNIT = "UNKNOWN_DMD_UNIT"


@dataclass(frozen=True, slots=True)
class DmdUnit:
    code: str  # SNOMED CT concept id
    display: str  # the dm+d unit-of-measure description (what EPS examples write in Quantity.unit)


@dataclass(frozen=True, slots=True)
class _Table:
    by_word: dict[str, DmdUnit]  # normalised description or synonym → unit (the first concept listed wins)
    codes: frozenset[str]


def _normalise(word: str) -> str:
    return " ".join(word.strip().casefold().replace("-", " ").split())


@functools.cache
def _table() -> _Table:
    value_set: dict[str, Any] = json.loads(VALUE_SET_PATH.read_text(encoding="utf-8"))
    by_word: dict[str, DmdUnit] = {}
    codes: set[str] = set()
    for include in value_set["compose"]["include"]:
        for concept in include["concept"]:
            unit = DmdUnit(concept["code"], concept["display"])
            codes.add(unit.code)
            words = [concept["display"], *(d["value"] for d in concept.get("designation", []))]
            for word in words:
                by_word.setdefault(_normalise(word), unit)
    return _Table(by_word, frozenset(codes))


def dmd_unit(word: str) -> DmdUnit | None:
    """The dm+d unit a trust's unit text names (description or a known synonym, any case), else None."""
    return _table().by_word.get(_normalise(word))


def is_dmd_unit_code(code: str) -> bool:
    return code in _table().codes


def nearest_units(word: str, limit: int = 3) -> list[str]:
    """The dm+d unit descriptions closest to `word` (by its own spelling or a synonym's), nearest first."""
    table = _table()
    close = difflib.get_close_matches(_normalise(word), list(table.by_word), n=limit * 4, cutoff=0.0)
    names: list[str] = []
    for match in close:
        display = table.by_word[match].display
        if display not in names:
            names.append(display)
    return names[:limit]


def unknown_unit_issue(word: str, location: Location) -> Issue:
    """The located error for a unit that names no dm+d unit of measure."""
    nearest = nearest_units(word)
    hint = f"; nearest: {', '.join(nearest)}" if nearest else ""
    return Issue(
        code=UNKNOWN_UNIT,
        message=f"{word!r} is not a dm+d unit of measure{hint}",
        location=location,
        value=word,
        expected=", ".join(nearest) if nearest else "a dm+d unit of measure (docs/trust-integration.md)",
    )
