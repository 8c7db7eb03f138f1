"""`hgw demo --once` as a user runs it: a subprocess that must deliver every sample prescription."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_demo_once_delivers_everything(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--data-dir", str(tmp_path), "demo", "--once", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"console: http://127\.0\.0\.1:\d+/console", out)
    posted = re.findall(r"trust posted \S+: accepted → (\S+) for (\S+)", out)
    assert len(posted) == 6
    assert {provider for _, provider in posted} == {"VNFKT", "VNCEL"}
    for short_form_id, _ in posted:
        assert re.search(rf"{re.escape(short_form_id)} delivery-delivered", out), short_form_id
    assert "all 6 prescriptions delivered" in out
    # The providers bill what they delivered; the CSV invoice carries deliberate discrepancies.
    billed = dict(re.findall(r"^(VNFKT|VNCEL) billed DEMO-\w+-1: £[\d.]+, lines (.+)$", out, re.MULTILINE))
    assert set(billed) == {"VNFKT", "VNCEL"}, out
    assert {"matched", "duplicate", "not-delivered", "vat-mismatch"} <= set(billed["VNFKT"].split(", "))
    assert set(billed["VNCEL"].split(", ")) == {"matched"}
    assert re.search(r"approved spend this month: £[1-9]", out)
    assert (tmp_path / "demo" / "hgw.sqlite3").exists()
    # The demo's console operators, with fresh passwords, printed for signing in (demo mode only).
    logins = dict(re.findall(r"console sign-in \((\w+)\): (\S+) / \S{12,}", out))
    assert logins == {"admin": "demo", "auditor": "demo-auditor"}
    # A trust's and a provider's staff sign in to the same console (one portal).
    staff = dict(re.findall(r"console sign-in \(viewer, (\w+ \w+)\): (\S+) / \S{12,}", out))
    assert staff == {"trust RBA": "demo-trust", "provider VNFKT": "demo-provider"}
    # Months of history behind the KPI charts and the at-risk list.
    history = re.search(r"history: (\d+) prescriptions over 5 months, (\d+) deliveries, (\d+) missed doses", out)
    assert history is not None and int(history[1]) >= 20 and int(history[2]) >= 60 and int(history[3]) >= 5


def test_demo_once_fails_when_delivery_cannot_finish(tmp_path: Path) -> None:
    # A zero timeout cannot see every delivery through: --once must say so and exit non-zero.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "--data-dir",
            str(tmp_path),
            "demo",
            "--once",
            "--port",
            "0",
            "--timeout",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not every prescription was delivered" in result.stdout
