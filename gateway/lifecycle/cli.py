"""`hgw lifecycle …`: lifecycle jobs from the command line (run `expire` daily, e.g. from cron). Output is JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

import click

from gateway.errors import GatewayError
from gateway.lifecycle.expiry import ExpiryReport, expire_due
from gateway.settings import Settings
from gateway.wiring import build_gateway


@click.group()
def lifecycle() -> None:
    """Prescription lifecycle jobs."""


@lifecycle.command("expire")
@click.option(
    "--now",
    "now_text",
    metavar="DATETIME",
    help="Expire as of this ISO 8601 time (with offset); default: the current time.",
)
@click.pass_context
def expire(ctx: click.Context, now_text: str | None) -> None:
    """Expire prescriptions whose validity ended (0004 Expired, open line items 0006)."""
    settings: Settings = ctx.obj
    now = _parse_now(now_text)

    async def main() -> ExpiryReport:
        gw = build_gateway(settings)
        try:
            return await expire_due(gw, now)
        finally:
            await gw.close()

    try:
        report = asyncio.run(main())
    except GatewayError as exc:
        click.echo(json.dumps({"error": exc.code, "message": str(exc)}, indent=2))
        sys.exit(1)
    click.echo(
        json.dumps(
            {"as_of": now.isoformat(), "checked": report.checked, "expired": report.expired, "skipped": report.skipped},
            indent=2,
        )
    )


def _parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {text}", param_hint="--now") from exc
    if parsed.tzinfo is None:
        raise click.BadParameter("give the UTC offset, e.g. 2027-01-31T02:00:00+00:00", param_hint="--now")
    return parsed
