"""`hgw organisations`: the organisation directory (NHS ODS `etr.csv`, or one by one) and each trust's homecare
team contact: what EPS needs on every order and trust exports do not carry (docs/trust-integration.md)."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli_support import PLAIN
from gateway.context import Gateway
from gateway.domain.directory import SDS_JOB_ROLES
from gateway.operations import organisations as directory


@click.group("organisations")
def organisations() -> None:
    """The organisation directory and trusts' homecare team contacts."""


@organisations.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def organisations_import(ctx: click.Context, file: Path) -> None:
    """Load an NHS ODS file in the etr.csv layout (trusts); prints what was imported and each bad line."""
    payload = file.read_bytes()
    PLAIN.emit(PLAIN.run(ctx, lambda gw: directory.import_ods_file(gw, payload)))


@organisations.command("add")
@click.option("--ods", required=True, help="The organisation's ODS code (a trust or one of its sites).")
@click.option("--name", required=True)
@click.option("--address", required=True, help="Its lines and then its postcode, comma-separated.")
@click.option("--telecom", required=True, help="Its telephone number.")
@click.option("--parent", "parent_ods", help="The trust a site belongs to.")
@click.pass_context
def organisations_add(
    ctx: click.Context, ods: str, name: str, address: str, telecom: str, parent_ods: str | None
) -> None:
    """Add or replace one organisation; prints it."""
    org = PLAIN.run(
        ctx,
        lambda gw: directory.add_organisation(
            gw, ods=ods, name=name, address=address, telecom=telecom, parent_ods=parent_ods
        ),
    )
    PLAIN.emit(directory.organisation_json(org))


@organisations.command("contact")
@click.option("--ods", "trust_ods", required=True, help="The trust's ODS code.")
@click.option("--telecom", required=True, help="The homecare team's telephone number.")
@click.option(
    "--job-role",
    required=True,
    help="SDS job role of the prescribers: " + ", ".join(f"{c} ({n})" for c, n in SDS_JOB_ROLES.items()),
)
@click.pass_context
def organisations_contact(ctx: click.Context, trust_ods: str, telecom: str, job_role: str) -> None:
    """Set a trust's homecare team contact (the responsible practitioner's telephone and job role)."""
    contact = PLAIN.run(
        ctx, lambda gw: directory.set_team_contact(gw, trust_ods=trust_ods, telecom=telecom, job_role=job_role)
    )
    PLAIN.emit(directory.contact_json(contact))


@organisations.command("list")
@click.pass_context
def organisations_list(ctx: click.Context) -> None:
    """Every organisation of the directory and every trust's team contact."""

    async def both(gw: Gateway) -> dict[str, object]:
        orgs = await directory.organisations(gw)
        contacts = await directory.team_contacts(gw)
        return {
            "organisations": [directory.organisation_json(o) for o in orgs],
            "team_contacts": [directory.contact_json(c) for c in contacts],
        }

    PLAIN.emit(PLAIN.run(ctx, both))
