"""Saved runs: a folder per run (`run.json` + `exchanges.jsonl`), rerun selections and run-to-run comparison.

`run.json` is the JSON report without its exchanges and holds the invocation (suite, target, preset, options),
so `hgw conformance rerun SESSION --failed` can run the same thing again; `exchanges.jsonl` is one captured
exchange per line. A comparison takes sessions or JSON reports alike.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance.errors import UsageError


def save_session(report: dict[str, Any], root: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = root / f"{stamp}-{report['suite']}-{secrets.token_hex(3)}"
    folder.mkdir(parents=True)
    body = {k: v for k, v in report.items() if k != "exchanges"}
    (folder / "run.json").write_text(json.dumps(body, indent=2))
    with (folder / "exchanges.jsonl").open("w") as fh:
        for exchange in report["exchanges"]:
            fh.write(json.dumps(exchange) + "\n")
    return folder


def load_report(path: Path) -> dict[str, Any]:
    """A session folder or a JSON report file, as the full report."""
    try:
        if path.is_dir():
            report: dict[str, Any] = json.loads((path / "run.json").read_text())
            lines = (path / "exchanges.jsonl").read_text().splitlines()
            report["exchanges"] = [json.loads(line) for line in lines if line.strip()]
        else:
            report = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read a conformance run from {path}: {exc}") from exc
    if not isinstance(report, dict) or report.get("schema") != "hgw-conformance-report/1":
        raise UsageError(f"{path} is not a conformance run (schema hgw-conformance-report/1)")
    return report


def rerun_selection(
    report: dict[str, Any], tests: tuple[str, ...], groups: tuple[str, ...], failed: bool
) -> tuple[list[str], list[str]]:
    """(tests, groups) to run again: the named ones, plus every test that failed or erred with `failed`."""
    chosen = list(tests)
    if failed:
        chosen += [t["id"] for t in report["tests"] if t["outcome"] in ("fail", "error") and t["id"] not in chosen]
    if not chosen and not groups:
        raise UsageError("nothing to rerun: give --test, --group or --failed (and the run has no failures)")
    return chosen, list(groups)


def compare(run: dict[str, Any], expected: dict[str, Any]) -> list[dict[str, Any]]:
    """Per test id, where the outcome (or the requirements it failed) differs from the expected run."""
    mine = {t["id"]: t for t in run["tests"]}
    theirs = {t["id"]: t for t in expected["tests"]}
    differences = []
    for test_id in sorted(mine.keys() | theirs.keys()):
        got, want = mine.get(test_id), theirs.get(test_id)
        got_outcome = got["outcome"] if got else "absent"
        want_outcome = want["outcome"] if want else "absent"
        got_reqs = sorted({f["requirement"] for f in got["findings"]}) if got else []
        want_reqs = sorted({f["requirement"] for f in want["findings"]}) if want else []
        if got_outcome != want_outcome or got_reqs != want_reqs:
            differences.append(
                {
                    "test": test_id,
                    "expected": want_outcome,
                    "actual": got_outcome,
                    "expected_findings": want_reqs,
                    "actual_findings": got_reqs,
                }
            )
    return differences
