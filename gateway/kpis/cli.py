"""`hgw kpi`: the national homecare KPIs of a month from the command line, as JSON, CSV or FHIR.

The command reads the store directly as the gateway's operator: every provider and trust, narrowed by the filters.
"""

from __future__ import annotations

import click

from gateway import audit
from gateway.cli_support import PLAIN
from gateway.context import Gateway
from gateway.kpis.monthly import (
    DEFAULT_ACK_TARGET_HOURS,
    DEFAULT_HORIZON_DAYS,
    KpiReport,
    Options,
    build_report,
    parse_ods,
    parse_period,
)
from gateway.kpis.report_formats import kpi_format


@click.command("kpi")
@click.option("--period", metavar="YYYY-MM", help="A UK calendar month; default: this month.")
@click.option("--provider", metavar="ODS", help="Only this provider.")
@click.option("--trust", metavar="ODS", help="Only this trust.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "fhir"]), default="json", show_default=True)
@click.option("--ack-target-hours", type=click.IntRange(1, 720), default=DEFAULT_ACK_TARGET_HOURS, show_default=True)
@click.option("--horizon-days", type=click.IntRange(1, 90), default=DEFAULT_HORIZON_DAYS, show_default=True)
@click.pass_context
def kpi(
    ctx: click.Context,
    period: str | None,
    provider: str | None,
    trust: str | None,
    fmt: str,
    ack_target_hours: int,
    horizon_days: int,
) -> None:
    """The homecare KPIs of a month per provider and trust (definitions: docs/kpis.md)."""
    chosen = kpi_format(fmt)

    async def work(gw: Gateway) -> KpiReport:
        return await build_report(
            gw,
            audit.SYSTEM,
            period=parse_period(period, gw.clock()),
            provider_ods=parse_ods(provider, "provider"),
            trust_ods=parse_ods(trust, "trust"),
            options=Options(ack_target_hours=ack_target_hours, horizon_days=horizon_days),
        )

    report = PLAIN.run(ctx, work)
    click.echo(chosen.render(report).decode(), nl=fmt != "csv")
