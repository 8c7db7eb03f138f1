"""`hgw ingest FILE`: parse an export offline (gateway/intake/offline.py) and print its bundles or located errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from gateway.cli_support import settings_of


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jac", "ascribe", "hl7v2", "fhir"]),
              help="The export's format (default: from the file name, else its first bytes).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help='One document: {"outcomes": [...], "file_errors": [...]}.')
@click.option("--provider", help="Provider ODS for prescriptions that name none.")
def ingest(file: Path, fmt: str | None, as_json: bool, provider: str | None) -> None:
    """Offline: parse an export and print the FHIR bundles or the located errors.

    Exit 0 when every prescription is accepted, 1 when any is rejected, 2 when the file as a whole is rejected.
    """
    from gateway.intake.offline import detect_format, exit_code, ingest_offline, offline_directory, text_report

    payload = file.read_bytes()
    directory = offline_directory(settings_of(click.get_current_context()))
    document = ingest_offline(payload, fmt or detect_format(file, payload), provider_ods=provider, directory=directory)
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        bundles, errors = text_report(document)
        if bundles:
            click.echo(bundles)
        if errors:
            click.echo(errors, err=True)
    sys.exit(exit_code(document))
