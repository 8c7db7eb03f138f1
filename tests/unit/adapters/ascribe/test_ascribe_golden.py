"""Golden files: each `tests/data/ascribe/<case>/input.xml` against its `expected.json` (canonical JSON and issues).

Cases are named by kind: `valid_*` parse without errors, `invalid_*` carry located errors, `malicious_*` are
refused as a whole. Regenerate with HGW_UPDATE_GOLDEN=1, then review the diff before committing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from adapters.ascribe import AscribeAdapter
from adapters.base import ParseResult

DATA = Path(__file__).parents[3] / "data" / "ascribe"
CASES = sorted(p.name for p in DATA.iterdir() if (p / "input.xml").exists())


def canonical_json(result: ParseResult) -> dict[str, Any]:
    """The result as the golden files hold it: issues as the API reports them, prescriptions as JSON."""
    outcomes = []
    for parsed in result.prescriptions:
        model = parsed.prescription
        outcomes.append({
            "rx_number": parsed.rx_number, "rx_version": parsed.rx_version, "lines": parsed.lines,
            "accepted": parsed.accepted, "issues": [i.as_dict() for i in parsed.issues],
            "prescription": model.model_dump(mode="json") if model is not None else None,
        })
    return {"format": result.format, "file_issues": [i.as_dict() for i in result.file_issues],
            "prescriptions": outcomes}


@pytest.mark.parametrize("case", CASES)
def test_golden_files(ascribe: AscribeAdapter, case: str) -> None:
    folder = DATA / case
    actual = canonical_json(ascribe.parse((folder / "input.xml").read_bytes()))
    expected_file = folder / "expected.json"
    if os.environ.get("HGW_UPDATE_GOLDEN") == "1":
        expected_file.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    assert actual == json.loads(expected_file.read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES)
def test_golden_cases_are_what_their_names_say(ascribe: AscribeAdapter, case: str) -> None:
    result = ascribe.parse((DATA / case / "input.xml").read_bytes())

    if case.startswith("valid_"):
        assert not result.file_issues and result.prescriptions
        assert all(p.accepted for p in result.prescriptions)
    elif case.startswith("malicious_"):
        assert result.file_rejected or not any(p.accepted for p in result.prescriptions)
    else:
        assert case.startswith("invalid_")
        assert result.file_rejected or not all(p.accepted for p in result.prescriptions)
    # Every error is located: a source line, and an XPath when it is about a node.
    issues = [*result.file_issues, *(i for p in result.prescriptions for i in p.issues)]
    assert all(i.location.line for i in issues if i.code != "TOO_LARGE")
    assert all(i.location.path for p in result.prescriptions for i in p.issues)


def test_there_are_golden_cases_of_each_kind() -> None:
    kinds = [case.split("_", 1)[0] for case in CASES]
    assert (kinds.count("valid"), kinds.count("invalid") >= 6, kinds.count("malicious") >= 5) == (3, True, True)
