"""`hgw conformance …`: run a suite, rerun part of a saved session, compare runs, check a trust file, make a preset.

Exit codes (conformance.model.ExitCode): 0 passed, 1 a test failed, 2 usage or tool error, 3 target unreachable,
4 no failure but a test ended in error.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from conformance.context import SuiteContext, load_preset, tls_context, write_preset
from conformance.errors import UsageError
from conformance.html_report import write_html
from conformance.model import ExitCode
from conformance.reports import summary_text, write_json, write_junit
from conformance.runner import run_suite, select
from conformance.sessions import compare, load_report, rerun_selection, save_session
from conformance.suites import suite_spec

DEFAULT_SESSIONS = Path("conformance-sessions")


def _usage(exc: UsageError) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(ExitCode.USAGE)


def _execute(invocation: dict[str, Any]) -> dict[str, Any]:
    """`execute` from the command line: a usage error ends the command with exit code 2."""
    try:
        return asyncio.run(execute(invocation))
    except UsageError as exc:
        _usage(exc)


async def execute(invocation: dict[str, Any], out: Any = click.echo) -> dict[str, Any]:
    """Run what `invocation` describes (suite, target, preset, timeout, tests, groups, options); the JSON report."""
    spec = suite_spec(invocation["suite"])
    mode = spec.mode(invocation["target"])
    parties = load_preset(Path(invocation["preset"])) if invocation.get("preset") else {}
    missing = [name for name in spec.required_parties if name not in parties]
    if missing:
        raise UsageError(
            f"the {invocation['suite']} suite needs a --preset with {' and '.join(missing)} "
            "(hgw conformance preset writes one; docs/conformance.md)"
        )
    only = select(spec.suite, invocation.get("tests", ()), invocation.get("groups", ()))
    tls = invocation.get("tls") or {}
    ctx = SuiteContext(
        invocation["target"],
        parties,
        tls=tls_context(tls.get("client_cert"), tls.get("client_key"), tls.get("ca_cert")),
        timeout=float(invocation.get("timeout", 30)),
        options=dict(invocation.get("options", {})),
        out=out,
    )
    async with spec.session(ctx, mode):
        result = await run_suite(spec.suite, ctx, only=only, mode=mode, probe=spec.probe(mode), invocation=invocation)
    return result.as_dict()


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """Where a run's reports are written (--report-json, --junit, --html) and saved (--sessions; None: not saved)."""

    report_json: Path | None
    junit: Path | None
    html: Path | None
    sessions: Path | None

    def run(self, invocation: dict[str, Any]) -> NoReturn:
        """Execute `invocation`, write its reports, print the summary, save the session; exit with its exit code."""
        report = _execute(invocation)
        if self.report_json:
            write_json(report, self.report_json)
        if self.junit:
            write_junit(report, self.junit)
        if self.html:
            write_html(report, self.html)
        click.echo(summary_text(report))
        if self.sessions is not None:
            click.echo(f"session saved: {save_session(report, self.sessions)}")
        sys.exit(report["exit_code"])


_report_options = [
    click.option("--report-json", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report."),
    click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML."),
    click.option("--html", type=click.Path(dir_okay=False, path_type=Path), help="Write the single-file HTML report."),
    click.option(
        "--sessions",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_SESSIONS,
        show_default=True,
        help="Where runs are saved for rerun and compare.",
    ),
    click.option("--no-session", is_flag=True, help="Do not save the run."),
]


def report_options(fn: Callable[..., None]) -> Callable[..., None]:
    """Add the report options to a command; it gets them as one `reports: ReportOptions` argument."""

    @functools.wraps(fn)
    def command(
        *args: Any,
        report_json: Path | None,
        junit: Path | None,
        html: Path | None,
        sessions: Path,
        no_session: bool,
        **kwargs: Any,
    ) -> None:
        fn(*args, reports=ReportOptions(report_json, junit, html, None if no_session else sessions), **kwargs)

    for option in reversed(_report_options):
        command = option(command)
    return command


@click.group()
def conformance() -> None:
    """Conformance suites for integration testers (docs/conformance.md)."""


@conformance.command("run")
@click.option("--suite", type=click.Choice(["gateway", "provider", "trust"]), required=True)
@click.option(
    "--target",
    required=True,
    help="gateway: its base URL; provider: its $process-message URL, or listen://HOST:PORT for a polling "
    "provider; trust: listen://HOST:PORT, or file:PATH.",
)
@click.option(
    "--preset",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Parties and keys (hgw conformance preset).",
)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for the other side.")
@click.option("--test", "tests", multiple=True, help="Run only this test (and what it depends on).")
@click.option("--group", "groups", multiple=True, help="Run only this group.")
@click.option("--provider-ods", default="VNFKT", show_default=True, help="provider suite: the ODS orders go to.")
@click.option("--client-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate for mutual TLS.")
@click.option("--client-key", type=click.Path(exists=True, dir_okay=False), help="Its PEM private key.")
@click.option("--ca-cert", type=click.Path(exists=True, dir_okay=False), help="PEM CA to trust besides the system's.")
@report_options
def run(
    suite: str,
    target: str,
    preset: Path | None,
    timeout: float,
    tests: tuple[str, ...],
    groups: tuple[str, ...],
    provider_ods: str,
    client_cert: str | None,
    client_key: str | None,
    ca_cert: str | None,
    reports: ReportOptions,
) -> None:
    """Run a suite against a target and write the reports."""
    invocation: dict[str, Any] = {
        "suite": suite,
        "target": target,
        "preset": str(preset.resolve()) if preset else None,
        "timeout": timeout,
        "tests": list(tests),
        "groups": list(groups),
        "options": {"provider_ods": provider_ods},
        "tls": {
            "client_cert": client_cert and str(Path(client_cert).resolve()),
            "client_key": client_key and str(Path(client_key).resolve()),
            "ca_cert": ca_cert and str(Path(ca_cert).resolve()),
        },
    }
    reports.run(invocation)


@conformance.command("rerun")
@click.argument("session", type=click.Path(exists=True, path_type=Path))
@click.option("--test", "tests", multiple=True, help="Rerun this test (and what it depends on).")
@click.option("--group", "groups", multiple=True, help="Rerun this group.")
@click.option("--failed", is_flag=True, help="Rerun every test that failed or erred.")
@report_options
def rerun(
    session: Path,
    tests: tuple[str, ...],
    groups: tuple[str, ...],
    failed: bool,
    reports: ReportOptions,
) -> None:
    """Run part of a saved session again, with the same suite, target, preset and options."""
    try:
        previous = load_report(session)
        chosen, chosen_groups = rerun_selection(previous, tests, groups, failed)
        invocation = dict(previous["invocation"], tests=chosen, groups=chosen_groups, rerun_of=str(session))
    except UsageError as exc:
        _usage(exc)
    reports.run(invocation)


@conformance.command("compare")
@click.argument("run_path", metavar="RUN", type=click.Path(exists=True, path_type=Path))
@click.argument("expected", type=click.Path(exists=True, path_type=Path))
def compare_runs(run_path: Path, expected: Path) -> None:
    """Per test id, where RUN's outcome differs from EXPECTED's; exit 0 when none does, 1 otherwise."""
    try:
        differences = compare(load_report(run_path), load_report(expected))
    except UsageError as exc:
        _usage(exc)
    for d in differences:
        expected_text = " ".join([d["expected"], *([str(d["expected_findings"])] if d["expected_findings"] else [])])
        actual_text = " ".join([d["actual"], *([str(d["actual_findings"])] if d["actual_findings"] else [])])
        click.echo(f"{d['test']}: expected {expected_text}, got {actual_text}")
    click.echo(json.dumps({"differences": len(differences)}))
    sys.exit(ExitCode.FAILED if differences else ExitCode.PASSED)


@conformance.command("check-file")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--content-type", help="Override the format guessed from the suffix and first bytes.")
@report_options
def check_file(
    file: Path,
    content_type: str | None,
    reports: ReportOptions,
) -> None:
    """Offline: check a trust export or message (JAC CSV, Ascribe XML, HL7 v2, FHIR JSON); every error located."""
    invocation: dict[str, Any] = {
        "suite": "trust",
        "target": f"file:{file.resolve()}",
        "preset": None,
        "timeout": 30,
        "tests": [],
        "groups": [],
        "options": {"content_type": content_type},
    }
    reports.run(invocation)


@conformance.command("preset")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The preset file.")
@click.option("--gateway-url", help="Recorded in the preset for reference.")
@click.option("--trust", "trust_ods", default="RBA", show_default=True)
@click.option("--provider", "provider_ods", default="VNFKT", show_default=True)
@click.option("--other-trust", "other_trust_ods", default="RHM", show_default=True)
@click.option("--other-provider", "other_provider_ods", default="VNCEL", show_default=True)
@click.pass_context
def preset(
    ctx: click.Context,
    out: Path,
    gateway_url: str | None,
    trust_ods: str,
    provider_ods: str,
    other_trust_ods: str,
    other_provider_ods: str,
) -> None:
    """On the gateway's host: register test parties (pull providers if missing) and write their keys to OUT."""
    from conformance.setup import Hgw, register_preset

    root = ctx.find_root().params
    global_args = [
        *(["--data-dir", str(root["data_dir"])] if root.get("data_dir") else []),
        *(["--database-url", str(root["database_url"])] if root.get("database_url") else []),
    ]
    ods = {
        "trust": trust_ods,
        "provider": provider_ods,
        "other_trust": other_trust_ods,
        "other_provider": other_provider_ods,
    }
    try:
        parties = register_preset(Hgw(global_args), ods)
    except UsageError as exc:
        _usage(exc)
    write_preset(out, parties, gateway_url)
    click.echo(json.dumps({"preset": str(out), **{name: p.key.client_id for name, p in parties.items()}}, indent=2))
