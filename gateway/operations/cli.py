"""`hgw providers …`, `hgw routes …` and `hgw organisations …`: what operators configure. Output is JSON.

Homecare providers and the routing rules that choose them; the organisation directory (NHS ODS `etr.csv`, or one
by one) and each trust's homecare team contact: what EPS needs on every order and trust exports do not carry
(docs/trust-integration.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.cli_support import PLAIN, run, settings_of
from gateway.context import Gateway
from gateway.domain.directory import SDS_JOB_ROLES
from gateway.operations import organisations as directory

if TYPE_CHECKING:
    from gateway.store.tables import Provider


def _provider_json(p: Provider) -> dict[str, object]:
    return {"ods": p.ods, "name": p.name, "mode": p.mode, "endpoint": p.endpoint, "active": p.active}


@click.group()
def providers() -> None:
    """Homecare providers."""


@providers.command("add")
@click.option("--ods", required=True)
@click.option("--name", required=True)
@click.option("--mode", type=click.Choice(["push", "pull"]), required=True)
@click.option("--endpoint")
@click.pass_context
def providers_add(ctx: click.Context, ods: str, name: str, mode: str, endpoint: str | None) -> None:
    """Register a homecare provider and how it receives orders."""
    from gateway.operations import admin

    p = PLAIN.run(ctx, lambda gw: admin.add_provider(gw, ods=ods, name=name, mode=mode, endpoint=endpoint))
    PLAIN.emit(_provider_json(p))


@providers.command("list")
@click.pass_context
def providers_list(ctx: click.Context) -> None:
    from gateway.operations import admin

    rows = run(settings_of(ctx), admin.providers)
    PLAIN.emit([_provider_json(p) for p in rows])


@click.group()
def routes() -> None:
    """Routing rules (blank criteria match everything)."""


@routes.command("add")
@click.option("--provider", "provider_ods", required=True)
@click.option("--trust", "trust_ods")
@click.option("--dmd", "dmd_code")
@click.option("--service-type", type=click.Choice(["DELIVERY", "DELIVERY_NURSING", "DELIVERY_TRAINING"]))
@click.option("--priority", type=int, default=100, show_default=True)
@click.pass_context
def routes_add(
    ctx: click.Context,
    provider_ods: str,
    trust_ods: str | None,
    dmd_code: str | None,
    service_type: str | None,
    priority: int,
) -> None:
    """Add a routing rule; with no criteria it is the default route."""
    from gateway.operations import admin

    rule = PLAIN.run(
        ctx,
        lambda gw: admin.add_route(
            gw,
            provider_ods=provider_ods,
            trust_ods=trust_ods,
            dmd_code=dmd_code,
            service_type=service_type,
            priority=priority,
        ),
    )
    PLAIN.emit(rule.model_dump(exclude={"created_at"}))


@routes.command("list")
@click.pass_context
def routes_list(ctx: click.Context) -> None:
    from gateway.operations import admin

    PLAIN.emit([r.model_dump(exclude={"created_at"}) for r in run(settings_of(ctx), admin.routes)])



@providers.command("update")
@click.argument("ods")
@click.option("--name")
@click.option("--mode", type=click.Choice(["push", "pull"]))
@click.option("--endpoint", help="The provider's $process-message URL ('' removes it).")
@click.option("--active/--inactive", default=None, help="An inactive provider gets no new orders.")
@click.pass_context
def providers_update(
    ctx: click.Context, ods: str, name: str | None, mode: str | None, endpoint: str | None, active: bool | None
) -> None:
    """Change a provider's name, delivery mode, endpoint or active flag."""
    from gateway.operations import admin

    p = PLAIN.run(
        ctx,
        lambda gw: admin.update_provider(
            gw,
            ods,
            name=name,
            mode=mode,
            endpoint=admin.KEEP if endpoint is None else (endpoint or None),
            active=active,
        ),
    )
    PLAIN.emit(_provider_json(p))


@routes.command("update")
@click.argument("rule_id", type=int)
@click.option("--provider", "provider_ods")
@click.option("--trust", "trust_ods", help="'' matches any trust.")
@click.option("--dmd", "dmd_code", help="'' matches any product.")
@click.option("--service-type", help="'' matches any service type.")
@click.option("--priority", type=int)
@click.pass_context
def routes_update(
    ctx: click.Context,
    rule_id: int,
    provider_ods: str | None,
    trust_ods: str | None,
    dmd_code: str | None,
    service_type: str | None,
    priority: int | None,
) -> None:
    """Change a routing rule (only the options given)."""
    from gateway.operations import admin

    def keep(value: str | None) -> str | None | admin.Keep:
        return admin.KEEP if value is None else (value or None)

    rule = PLAIN.run(
        ctx,
        lambda gw: admin.update_route(
            gw,
            rule_id,
            provider_ods=provider_ods,
            trust_ods=keep(trust_ods),
            dmd_code=keep(dmd_code),
            service_type=keep(service_type),
            priority=priority,
        ),
    )
    PLAIN.emit(rule.model_dump(exclude={"created_at"}))


@routes.command("remove")
@click.argument("rule_id", type=int)
@click.pass_context
def routes_remove(ctx: click.Context, rule_id: int) -> None:
    """Remove a routing rule (prescriptions it routed keep their provider)."""
    from gateway.operations import admin

    rule = PLAIN.run(ctx, lambda gw: admin.remove_route(gw, rule_id))
    PLAIN.emit({"removed": rule.id, "provider_ods": rule.provider_ods})


@routes.command("route-held")
@click.option("--limit", type=int, default=200, show_default=True)
@click.pass_context
def routes_route_held(ctx: click.Context, limit: int) -> None:
    """Route held prescriptions again with today's rules (after adding a rule or switching a provider on)."""
    import dataclasses

    from gateway.operations import admin

    outcomes = PLAIN.run(ctx, lambda gw: admin.route_held(gw, limit=limit))
    PLAIN.emit({"routed": [dataclasses.asdict(o) for o in outcomes]})


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
