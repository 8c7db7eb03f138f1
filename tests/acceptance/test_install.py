"""A non-editable install finds its migrations, templates and fhir_profiles without the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_non_editable_install_is_self_contained(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import json, fhir_profiles, gateway, adapters;"
        "from gateway.store.migrate import MIGRATIONS;"
        "print(json.dumps({'profiles': [p.name for p in fhir_profiles.resource_paths()],"
        "'gateway': gateway.__file__, 'migrations': sorted(p.name for p in (MIGRATIONS / 'versions').glob('*.py'))}))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    found = json.loads(out.stdout)
    assert found["gateway"].startswith(str(target))
    # The console's templates and its vendored stylesheet ship with the package (no CDN to fall back on).
    console = target / "gateway" / "console"
    assert (console / "static" / "console.css").is_file() and (console / "templates" / "login.html").is_file()
    assert "homecare-delivery-status.json" in found["profiles"]
    assert "0001_initial_schema.py" in found["migrations"]
    db = tmp_path / "data"
    up = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--data-dir", str(db), "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert up.returncode == 0, up.stderr
    assert (db / "hgw.sqlite3").stat().st_size > 0
