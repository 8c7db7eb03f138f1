"""Golden files: tests/data/hl7v2/<case>/input.hl7 → expected.json (parse result, canonical model and the ACK).

Time and ACK control ids are frozen. Regenerate with HGW_UPDATE_GOLDEN=1, then review the diff.
"""

from __future__ import annotations

import itertools
import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from adapters.hl7v2 import Hl7ParseResult, Hl7v2Adapter
from adapters.hl7v2.ack import render_ack

GOLDEN = Path(__file__).parents[3] / "data" / "hl7v2"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "input.hl7").exists())


def as_golden(result: Hl7ParseResult, ack: bytes) -> dict[str, object]:
    """The parse result as JSON, and the ACK line by line."""
    summary = ("rx_number", "rx_version", "lines", "accepted")
    return {
        "format": result.format,
        "file_issues": [i.as_dict() for i in result.file_issues],
        "prescriptions": [{**{name: getattr(p, name) for name in summary},
                           "issues": [i.as_dict() for i in p.issues],
                           "prescription": p.prescription and p.prescription.model_dump(mode="json")}
                          for p in result.prescriptions],
        "ack": ack.decode().split("\r"),
    }


@pytest.mark.parametrize("case", CASES)
def test_golden_files(hl7: Hl7v2Adapter, frozen_now: datetime, case: str) -> None:
    folder = GOLDEN / case
    result = hl7.parse((folder / "input.hl7").read_bytes())
    counter = itertools.count(1)
    ack = render_ack(result, now=frozen_now, control_ids=lambda: f"ACK{next(counter):04d}")
    golden = folder / "expected.json"
    if os.environ.get("HGW_UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(as_golden(result, ack), indent=2, ensure_ascii=False) + "\n", "utf-8")

    assert as_golden(result, ack) == json.loads(golden.read_text("utf-8"))


def test_the_corpus_has_valid_and_invalid_cases() -> None:
    assert {"valid_order", "valid_batch", "not_hl7"} <= set(CASES)
    assert sum(case.startswith("invalid_") for case in CASES) >= 5
