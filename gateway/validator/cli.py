"""`hgw validate FILE… [--profile URL] [--format json|text]`: FHIR JSON files against `fhir_profiles/`.

Exit status 0 when no error-level issue is found, 1 when one is, 2 when a file cannot be read as JSON.
With `--format json` (the default) one file prints its OperationOutcome, several files a JSON array of them.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from gateway.validator.outcome import has_errors, operation_outcome
from gateway.validator.validator import Validator


def _read(path: Path) -> Any:
    return json.loads(path.read_bytes(), parse_float=Decimal)


def _text(path: Path, outcome: dict[str, Any]) -> str:
    lines = [str(path)]
    for issue in outcome["issue"]:
        where = ", ".join(issue.get("expression", [])) or "-"
        code = issue.get("details", {}).get("coding", [{}])[0].get("code", issue["code"])
        lines.append(f"  {issue['severity']:<11} {code:<28} {where}: {issue.get('diagnostics', '')}")
    return "\n".join(lines)


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--profile", metavar="URL", help="Canonical URL of the profile (default: meta.profile, message event).")
@click.option("--format", "output", type=click.Choice(["json", "text"]), default="json", show_default=True)
def validate(files: tuple[Path, ...], profile: str | None, output: str) -> None:
    """Validate FHIR JSON FILEs against the gateway's profiles; print an OperationOutcome per file."""
    validator = Validator.from_package()
    if profile is not None and not validator.knows_profile(profile):
        raise click.BadParameter(f"no such profile in the package: {profile}", param_hint="--profile")
    outcomes: list[dict[str, Any]] = []
    failed = unreadable = False
    for path in files:
        try:
            resource = _read(path)
        except (OSError, ValueError) as exc:
            click.echo(f"{path}: cannot be read as JSON: {exc}", err=True)
            unreadable = True
            continue
        issues = list(validator.validate(resource, profile))
        failed = failed or has_errors(issues)
        outcome = operation_outcome(issues)
        outcomes.append(outcome)
        if output == "text":
            click.echo(_text(path, outcome))
    if output == "json" and outcomes:
        click.echo(json.dumps(outcomes[0] if len(files) == 1 else outcomes, indent=2, ensure_ascii=False))
    sys.exit(2 if unreadable else 1 if failed else 0)
