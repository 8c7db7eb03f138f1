"""`hgw alerts`: list alerts, evaluate the rules once, and manage per-provider thresholds."""

from __future__ import annotations

import json
from typing import Any

import click

from gateway.alerts import admin
from gateway.alerts.rules import EVERY_PROVIDER, Kind
from gateway.cli_support import PLAIN, run
from gateway.errors import GatewayError


def _run(ctx: click.Context, work: Any) -> Any:
    # Unlike the other groups, an alerts error is one compact line without issues (its output is public).
    try:
        return run(ctx.find_root().obj, work)
    except GatewayError as exc:
        click.echo(json.dumps({"error": exc.code, "message": str(exc)}))
        raise SystemExit(1) from exc


@click.group()
def alerts() -> None:
    """Alerts on queue age, dead letters, silent providers, acknowledgement lag and failure rate."""


@alerts.command("list")
@click.option("--all", "show_all", is_flag=True, help="Resolved alerts too, newest first.")
@click.option("--limit", type=int, default=100, show_default=True)
@click.pass_context
def alerts_list(ctx: click.Context, show_all: bool, limit: int) -> None:
    """Open alerts (with --all: resolved ones too)."""
    PLAIN.emit(_run(ctx, lambda gw: admin.list_alerts(gw, include_resolved=show_all, limit=limit)))


@alerts.command("evaluate")
@click.pass_context
def alerts_evaluate(ctx: click.Context) -> None:
    """Evaluate every rule once, open and resolve alerts, send pending notices; prints what changed."""
    PLAIN.emit(_run(ctx, admin.evaluate_once))


@alerts.group("rules")
def rules() -> None:
    """Thresholds overriding the HGW_ALERT_* defaults, per provider or for all (*)."""


@rules.command("list")
@click.pass_context
def rules_list(ctx: click.Context) -> None:
    """The defaults from the settings and every stored override."""
    PLAIN.emit(_run(ctx, admin.list_rules))


@rules.command("set")
@click.option("--kind", type=click.Choice([k.value for k in Kind]), required=True)
@click.option("--provider", "provider_ods", default=EVERY_PROVIDER, show_default=True, help="ODS code, or *.")
@click.option("--threshold", type=float, help="Minutes, messages or a ratio (by kind); 0 switches it off.")
@click.option("--window-minutes", type=float, help="failure-rate: the window counted.")
@click.option("--disable", is_flag=True, help="Switch the rule off for this scope.")
@click.pass_context
def rules_set(
    ctx: click.Context, kind: str, provider_ods: str, threshold: float | None, window_minutes: float | None,
    disable: bool,
) -> None:
    """Create or change the threshold of one rule kind for one provider (or every provider)."""
    PLAIN.emit(
        _run(
            ctx,
            lambda gw: admin.set_rule(
                gw, Kind(kind), provider_ods, threshold=threshold, window_minutes=window_minutes, enabled=not disable
            ),
        )
    )


@rules.command("remove")
@click.option("--kind", type=click.Choice([k.value for k in Kind]), required=True)
@click.option("--provider", "provider_ods", default=EVERY_PROVIDER, show_default=True)
@click.pass_context
def rules_remove(ctx: click.Context, kind: str, provider_ods: str) -> None:
    """Remove an override: the scope falls back to the * row or the setting."""
    PLAIN.emit(_run(ctx, lambda gw: admin.remove_rule(gw, Kind(kind), provider_ods)))
