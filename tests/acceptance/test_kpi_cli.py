"""`hgw kpi` as a subprocess on a fresh store: an empty month is all zeros and no scores; bad input is located."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.measurereport import MeasureReport

from gateway.store.migrate import upgrade
from tests.acceptance import processes


def hgw(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return processes.hgw("--data-dir", str(data_dir), *args, cwd=data_dir.parent)


def test_kpi_command_on_an_empty_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    upgrade(f"sqlite+aiosqlite:///{data / 'hgw.sqlite3'}")  # what `hgw db upgrade` does, without a process

    done = hgw(data, "kpi", "--period", "2026-09", "--provider", "vnfkt", "--format", "fhir")
    assert done.returncode == 0, done.stderr
    bundle = json.loads(done.stdout)
    Bundle.model_validate(bundle)
    assert len(bundle["entry"]) == 9  # every KPI but the two measured for the current month only
    for entry in bundle["entry"]:
        report = entry["resource"]
        MeasureReport.model_validate(report)
        assert (
            report["period"] == {"start": "2026-09-01", "end": "2026-09-30"} and "stratifier" not in report["group"][0]
        )
        assert {p["count"] for g in report["group"] for p in g["population"]} == {0}
        assert all("measureScore" not in g for g in report["group"])  # nothing to score

    bad = hgw(data, "kpi", "--period", "September")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["issues"][0] == {
        "severity": "error",
        "code": "INVALID_PARAMETER",
        "message": "the period is a calendar month",
        "expression": "period",
        "value": "September",
        "expected": "YYYY-MM from 2000-01, e.g. 2026-11",
    }
