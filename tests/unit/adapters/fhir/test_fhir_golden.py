"""Golden files: a message Bundle in, the canonical prescription, EPS ids and issues out (clock frozen).

Regenerate after an intended mapping change with `HGW_UPDATE_GOLDEN=1 pytest tests/unit/adapters/fhir`, then review
the diff.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from adapters.fhir import FhirAdapter, eps_ids
from gateway.fhir.serialise import loads_bundle
from tests.unit.adapters.fhir.support import FROZEN_NOW

DATA = Path(__file__).resolve().parents[3] / "data" / "fhir_inbound"
CASES = sorted(p.name for p in DATA.iterdir() if (p / "input.json").exists())


def outcome(case: str) -> dict[str, Any]:
    raw = (DATA / case / "input.json").read_bytes()
    result = FhirAdapter(clock=lambda: FROZEN_NOW).parse(raw)
    assert not result.file_issues
    [parsed] = result.prescriptions
    ids = asdict(eps_ids(loads_bundle(raw)))
    ids["item_ids"] = {str(k): v for k, v in ids["item_ids"].items()}
    return {
        "outcome": "accepted" if parsed.accepted else "rejected",
        "rx_number": parsed.rx_number,
        "prescription": None if parsed.prescription is None else parsed.prescription.model_dump(mode="json"),
        "eps_ids": ids,
        "issues": [i.as_dict() for i in parsed.issues],
    }


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 2
    assert {"accepted", "rejected"} <= {json.loads((DATA / c / "expected.json").read_text())["outcome"] for c in CASES}


@pytest.mark.parametrize("case", CASES)
def test_prescription_matches_golden_file(case: str) -> None:
    got = outcome(case)
    expected_path = DATA / case / "expected.json"
    if os.environ.get("HGW_UPDATE_GOLDEN") == "1":
        expected_path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert expected_path.exists(), f"no {expected_path}; run with HGW_UPDATE_GOLDEN=1 to create it"
    assert got == json.loads(expected_path.read_text(encoding="utf-8"))
