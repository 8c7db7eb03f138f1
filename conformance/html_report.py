"""A single-file HTML report a tester can hand to a customer: inline CSS, no script, no external reference."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #ddd;padding:4px 6px;
text-align:left;vertical-align:top}th{background:#f3f3f3}
.pass{color:#176f2c;font-weight:600}.fail{color:#b00020;font-weight:600}.skip{color:#777}
.error{color:#a15c00;font-weight:600}.verdict{font-size:1.2em;padding:.4em .8em;display:inline-block;
border-radius:4px;background:#eee}
pre{white-space:pre-wrap;word-break:break-all;background:#f7f7f7;padding:6px;max-height:30em;overflow:auto;
font-size:12px}details{margin:.3em 0}code{font-size:12px}
"""


def render_html(report: dict[str, Any]) -> str:
    s = report["summary"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Conformance report: {escape(report['title'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(report['title'])}</h1>",
        f"<p>Target <code>{escape(report['target'])}</code>, run {escape(report['started'])} – "
        f"{escape(report['finished'])}</p>",
        f"<p class='verdict {_css(report['verdict'])}'>Verdict: {escape(report['verdict'])} "
        f"(exit code {report['exit_code']})</p>",
        f"<p>{s['pass']} passed, {s['fail']} failed, {s['skip']} skipped, {s['error']} errors, "
        f"{s['warnings']} SHOULD warnings.</p>",
    ]
    if report.get("unreachable"):
        parts.append(f"<p class='error'>Target unreachable: {escape(report['unreachable'])}</p>")
    parts.append(
        "<h2>Tests</h2><table><tr><th>Test</th><th>Title</th><th>Outcome</th><th>Requirements</th>"
        "<th>Findings</th></tr>"
    )
    for test in report["tests"]:
        findings = "".join(
            f"<div>{escape(f['level'])} <b>{escape(f['requirement'])}</b>"
            f"{' at <code>' + escape(f['location']) + '</code>' if f.get('location') else ''}: "
            f"{escape(f['message'])}</div>"
            for f in test["findings"]
        )
        if test["outcome"] in ("skip", "error"):
            findings += f"<div>{escape(test['message'])}</div>"
        parts.append(
            f"<tr id='{escape(test['id'])}'><td><code>{escape(test['id'])}</code></td><td>{escape(test['title'])}</td>"
            f"<td class='{test['outcome']}'>{test['outcome']}</td>"
            f"<td>{' '.join(escape(r) for r in test['requirements'])}</td><td>{findings}</td></tr>"
        )
    parts.append(
        "</table><h2>Requirements</h2><table><tr><th>Id</th><th>Level</th><th>Requirement</th><th>Source</th></tr>"
    )
    for req in report["requirements"].values():
        parts.append(
            f"<tr><td><code>{escape(req['id'])}</code></td><td>{req['level']}</td><td>{escape(req['text'])}</td>"
            f"<td>{escape(req['source'])}</td></tr>"
        )
    parts.append("</table><h2>Exchanges</h2>")
    for ex in report["exchanges"]:
        status = ex["response"]["status"] if ex["response"]["status"] is not None else ex.get("error")
        parts.append(
            f"<details><summary>#{ex['id']} {escape(ex['test'] or 'setup')} {escape(ex['direction'])} "
            f"{escape(ex['method'])} <code>{escape(ex['url'])}</code> → {escape(str(status))} "
            f"({ex['elapsed_ms']} ms)</summary>"
            f"<pre>{escape(_headers(ex['request']['headers']))}\n\n{escape(ex['request']['body'])}</pre>"
            f"<pre>{escape(_headers(ex['response']['headers']))}\n\n{escape(ex['response']['body'])}</pre></details>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def write_html(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report))


def _headers(headers: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


def _css(verdict: str) -> str:
    return {"pass": "pass", "fail": "fail"}.get(verdict, "error")
