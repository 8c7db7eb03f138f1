"""A whole demo run logs no patient data, and `hgw serve` refuses the demo's keys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conformance.parties.exports import export_rows


def test_demo_run_logs_no_patient_data(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--data-dir", str(tmp_path), "demo", "--once", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=300,  # a bound, not a figure: the demo takes 20-60 s, far more on a loaded machine
        check=False,
        env={"PATH": "/usr/bin:/bin", "HGW_LOG_LEVEL": "DEBUG"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    logs = (tmp_path / "demo" / "gateway.log").read_text()
    assert '"message": "request"' in logs and "/FHIR/R4/Task/$release" in logs  # the log is real and detailed
    # The demo's sample patients (the same seeds hgw demo uses).
    patients = export_rows(4, seed=7) + export_rows(2, seed=8)
    everything = logs + result.stdout + result.stderr
    for row in patients:
        nhs = row["NHSNumber"]
        for secret in (
            nhs,
            f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}",
            f"{row['Surname']}",
            row["Address1"],
            row["DOB"],
            row["HospitalNumber"],
        ):
            assert secret not in everything, secret


def test_serve_refuses_demo_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "DEMO").write_text("demo")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--data-dir", str(tmp_path), "serve", "--port", "0"],
        env={**os.environ, "HGW_BASE_URL": "https://gateway.example"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "keys made by `hgw demo`" in result.stderr
