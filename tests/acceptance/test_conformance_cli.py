"""`hgw conformance` end to end: a preset registered in a real store, `hgw serve` as a subprocess, the gateway
suite with every report, then a saved session rerun and compared.

The preset's own `hgw` commands (a dozen: providers, organisations, clients) run in this process: each as a
subprocess costs a Python start-up that imports the gateway, most of this test's time. The kit's subprocess
runner itself is tested in tests/unit/conformance/test_preset_setup.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from conformance import setup
from conformance.errors import UsageError
from gateway.cli import cli
from tests.acceptance.processes import HGW, free_port, hgw


def _hgw(*args: str, data: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return hgw("--data-dir", str(data), *args, cwd=cwd, env={**os.environ, "HGW_MODE": "test"}, timeout=180)


class InProcessHgw(setup.Hgw):
    """The preset's `hgw` commands, run in this process with the same arguments the kit gives its subprocesses."""

    def __call__(self, *args: str) -> Any:
        done = CliRunner(env={"HGW_MODE": "test"}).invoke(cli, [*self.global_args, *args])
        if done.exit_code != 0:
            raise UsageError(f"hgw {' '.join(args[:2])} failed: {done.output.strip()}")
        return json.loads(done.stdout)


def test_gateway_suite_against_hgw_serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    assert _hgw("db", "upgrade", data=data, cwd=tmp_path).returncode == 0
    monkeypatch.setattr(setup, "Hgw", InProcessHgw)
    made = CliRunner(env={"HGW_MODE": "test"}).invoke(
        cli, ["--data-dir", str(data), "conformance", "preset", "--out", str(tmp_path / "preset.json")]
    )
    assert made.exit_code == 0, made.output
    assert oct((tmp_path / "preset.json").stat().st_mode & 0o777) == "0o600"
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [*HGW, "--data-dir", str(data), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env={
            **os.environ,
            "HGW_MODE": "test",
            "HGW_BASE_URL": f"http://127.0.0.1:{port}",
            "HGW_OUTBOUND_ALLOW_LOOPBACK": "true",
        },
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "hgw serve did not come up"
            time.sleep(0.1)
        run = _hgw(
            "conformance",
            "run",
            "--suite",
            "gateway",
            "--target",
            f"http://127.0.0.1:{port}",
            "--preset",
            "preset.json",
            "--report-json",
            "report.json",
            "--junit",
            "junit.xml",
            "--html",
            "report.html",
            "--sessions",
            "sessions",
            data=data,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stdout + run.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "pass" and report["summary"]["fail"] == 0 and report["summary"]["pass"] >= 17
    assert "PASS  GW-FLOW-006" in run.stdout
    junit = ET.parse(tmp_path / "junit.xml").getroot()  # noqa: S314 - the report this test just wrote
    assert junit.tag == "testsuites" and junit.get("failures") == "0"
    assert int(junit.get("tests", "0")) == len(report["tests"])
    html = (tmp_path / "report.html").read_text()
    assert "GW-FLOW-001" in html
    assert not re.search(r"<(link|script|img|iframe)\b|\b(src|href)\s*=|@import|url\(", html)  # nothing external

    # the saved session: rerun one group, then compare with the first run
    session = next((tmp_path / "sessions").iterdir())
    assert (session / "run.json").exists() and (session / "exchanges.jsonl").stat().st_size > 0
    same = CliRunner().invoke(cli, ["conformance", "compare", str(session), str(tmp_path / "report.json")])
    assert same.exit_code == 0 and '"differences": 0' in same.output
