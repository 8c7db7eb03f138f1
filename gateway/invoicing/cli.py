"""`hgw prices import|list`, `hgw spend` and `hgw invoices read`: the price list, spend and a provider's bill from the
command line, as the gateway."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gateway import audit
from gateway.cli_support import PLAIN
from gateway.context import Gateway
from gateway.invoicing import prices
from gateway.invoicing.spend import SpendReport, render_csv, render_fhir, spend_request
from gateway.kpis.monthly import parse_ods


@click.group("prices")
def prices_group() -> None:
    """The trust–provider price list (docs/invoicing.md)."""


@prices_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def prices_import(ctx: click.Context, file: Path) -> None:
    """Load a price-list CSV, whole or not at all; prints {"added", "replaced", "unchanged"}."""
    payload = file.read_bytes()

    async def work(gw: Gateway) -> dict[str, int]:
        return (await prices.import_price_csv(gw, payload)).as_json()

    PLAIN.emit(PLAIN.run(ctx, work))


@prices_group.command("list")
@click.option("--trust", metavar="ODS")
@click.option("--provider", metavar="ODS")
@click.pass_context
def prices_list(ctx: click.Context, trust: str | None, provider: str | None) -> None:
    """Print the price-list entries as JSON."""

    async def work(gw: Gateway) -> dict[str, object]:
        found = await prices.list_prices(
            gw, audit.SYSTEM, trust_ods=parse_ods(trust, "trust"), provider_ods=parse_ods(provider, "provider")
        )
        return {"prices": [p.as_json() for p in found]}

    PLAIN.emit(PLAIN.run(ctx, work))


@click.command("spend")
@click.option("--from", "month_from", metavar="YYYY-MM", help="First month; default: this month.")
@click.option("--to", "month_to", metavar="YYYY-MM", help="Last month; default: --from.")
@click.option("--trust", metavar="ODS")
@click.option("--provider", metavar="ODS")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "fhir"]), default="json", show_default=True)
@click.option("--publication", is_flag=True, help="Merge rows of few lines: an aggregate fit to publish.")
@click.pass_context
def spend(
    ctx: click.Context,
    month_from: str | None,
    month_to: str | None,
    trust: str | None,
    provider: str | None,
    fmt: str,
    publication: bool,
) -> None:
    """Approved spend per trust, provider, medicine or service and month (docs/invoicing.md)."""

    async def work(gw: Gateway) -> SpendReport:
        raw = {"from": month_from, "to": month_to, "trust": trust, "provider": provider}
        return await spend_request(gw, None, raw, publication=publication, names=("--from", "--to"))

    report = PLAIN.run(ctx, work)
    if fmt == "csv":
        click.echo(render_csv(report).decode(), nl=False)
    elif fmt == "fhir":
        click.echo(json.dumps(render_fhir(report), indent=2, default=str))
    else:
        PLAIN.emit(report.as_json())


@click.group("invoices")
def invoices_group() -> None:
    """Providers' invoices (docs/invoicing.md)."""


@invoices_group.command("read")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "kind", required=True, type=click.Choice(["claim", "invoice", "csv"]),
              help="An EPS Claim, a FHIR Invoice or a CSV invoice, as posted to /FHIR/R4/Claim, /FHIR/R4/Invoice or "
                   "/api/v1/invoices.")  # fmt: skip
@click.option("--provider", required=True, metavar="ODS", help="The provider billing.")
def read_invoice(file: Path, kind: str, provider: str) -> None:
    """A bill read as the gateway reads it, offline (no reconciliation): its lines as JSON, or the located
    problems that would refuse it (exit 1). The conformance kit's billing tests read bills with it."""
    import json
    import sys

    from gateway.invoicing.reading import read_bill

    bill = read_bill(kind, file.read_bytes(), provider)
    click.echo(json.dumps(bill))
    sys.exit(0 if "lines" in bill else 1)
