"""The run as a console summary, a JSON report and JUnit XML (one testsuite per group, one testcase per test)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def summary_text(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        f"{report['title']} against {report['target']}",
        f"{s['pass']} passed, {s['fail']} failed, {s['skip']} skipped, {s['error']} errors, "
        f"{s['warnings']} SHOULD warnings — verdict: {report['verdict']} (exit {report['exit_code']})",
    ]
    if report.get("unreachable"):
        lines.append(f"target unreachable: {report['unreachable']}")
    return "\n".join(lines)


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))


def junit_xml(report: dict[str, Any]) -> str:
    """JUnit XML that CI systems read: failures carry the requirement and location, errors the reason."""
    root = ET.Element("testsuites", name=f"hgw conformance {report['suite']}")
    groups: dict[str, list[dict[str, Any]]] = {}
    for test in report["tests"]:
        groups.setdefault(test["group"], []).append(test)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for group, tests in groups.items():
        counts = {
            "tests": len(tests),
            "failures": sum(t["outcome"] == "fail" for t in tests),
            "errors": sum(t["outcome"] == "error" for t in tests),
            "skipped": sum(t["outcome"] == "skip" for t in tests),
        }
        for key, value in counts.items():
            totals[key] += value
        seconds = sum(t["duration_ms"] for t in tests) / 1000
        attributes = {"name": group, "time": f"{seconds:.3f}", "timestamp": report["started"]}
        suite = ET.SubElement(root, "testsuite", attributes | {k: str(v) for k, v in counts.items()})
        for test in tests:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{report['suite']}.{group}",
                name=f"{test['id']} {test['title']}",
                time=f"{test['duration_ms'] / 1000:.3f}",
            )
            details = "\n".join(_finding_line(f) for f in test["findings"])
            if test["outcome"] == "fail":
                ET.SubElement(case, "failure", message=test["message"], type="conformance").text = details
            elif test["outcome"] == "error":
                ET.SubElement(case, "error", message=test["message"], type="error").text = "\n".join(test["notes"])
            elif test["outcome"] == "skip":
                ET.SubElement(case, "skipped", message=test["message"])
            props = ET.SubElement(case, "properties")
            for rid in test["requirements"]:
                ET.SubElement(props, "property", name="requirement", value=rid)
            if test["outcome"] == "pass" and details:
                ET.SubElement(case, "system-out").text = details
    for key, value in totals.items():
        root.set(key, str(value))
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def write_junit(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(report))


def _finding_line(finding: dict[str, Any]) -> str:
    where = f" at {finding['location']}" if finding.get("location") else ""
    return f"{finding['level']} {finding['requirement']}{where}: {finding['message']}"
