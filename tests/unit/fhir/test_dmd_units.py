"""The dm+d unit-of-measure ValueSet: real SNOMED CT ids, the shared reference list covered, synonyms, nearest."""

from __future__ import annotations

import csv
import json

import pytest

from gateway.domain.identifiers import is_valid_snomed_id
from gateway.errors import Location
from gateway.fhir.dmd_units import VALUE_SET_PATH, dmd_unit, is_dmd_unit_code, nearest_units, unknown_unit_issue
from gateway.fhir.validation import validate_resource
from tests.paths import REFERENCE


def concepts() -> list[dict[str, object]]:
    value_set = json.loads(VALUE_SET_PATH.read_text(encoding="utf-8"))
    assert validate_resource(value_set) == []
    return [c for include in value_set["compose"]["include"] for c in include["concept"]]


def test_every_code_is_a_snomed_ct_id_and_listed_once() -> None:
    codes = [str(c["code"]) for c in concepts()]
    assert len(codes) == len(set(codes))
    assert all(is_valid_snomed_id(code) for code in codes), codes


def test_the_shared_reference_units_are_all_in_the_value_set() -> None:
    with (REFERENCE / "units.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows
    for row in rows:
        assert is_dmd_unit_code(row["code"]), row
        unit = dmd_unit(row["unit"])
        assert unit is not None and unit.display == row["unit"]


@pytest.mark.parametrize(
    ("written", "display"),
    [
        ("Pre-filled syringe", "pre-filled disposable injection"),
        ("prefilled syringes", "pre-filled disposable injection"),
        ("TABS", "tablet"),
        ("mls", "ml"),
        ("micrograms", "microgram"),
        ("  Ampoules ", "ampoule"),
    ],
)
def test_synonyms_name_their_dmd_unit(written: str, display: str) -> None:
    unit = dmd_unit(written)
    assert unit is not None and unit.display == display


def test_an_unknown_unit_names_the_nearest_dmd_units() -> None:
    assert dmd_unit("bin") is None
    assert nearest_units("capsuls")[0] == "capsule"
    issue = unknown_unit_issue("tablett", Location(path="items[0].qty_unit"))
    assert (issue.code, issue.location.path, issue.value) == ("UNKNOWN_DMD_UNIT", "items[0].qty_unit", "tablett")
    assert "tablet" in issue.message and issue.expected is not None and issue.expected.startswith("tablet")
