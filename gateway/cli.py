"""The `hgw` command line. Every option can also be set as an `HGW_` environment variable.

This module holds the root group, `hgw serve` and `hgw demo`; every other command lives in the `cli.py` of the
package it drives (`hgw db` in store/, `hgw ingest` in intake/, `hgw providers`, `hgw routes` and `hgw organisations`
in operations/, `hgw clients` in security/, `hgw worker` with `hgw queue` in delivery/, …) and is added by
`_register_commands`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from gateway import cli_support
from gateway.settings import Settings, load_settings
from gateway.wiring import build_gateway

_settings = cli_support.settings_of


@click.group(context_settings={"auto_envvar_prefix": "HGW", "help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where the SQLite store and keys live.")
@click.option("--database-url", help="SQLAlchemy URL (postgresql://… for PostgreSQL).")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, database_url: str | None) -> None:
    """Homecare Gateway: NHS homecare prescriptions from trusts to providers, EPS-shaped."""
    ctx.obj = load_settings(data_dir=data_dir, database_url=database_url)


@cli.command()
@click.option("--host", help="Interface to listen on.")
@click.option("--port", type=int, help="Port to listen on.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the gateway."""
    import uvicorn

    from gateway.app import create_app, settle_heap
    from gateway.errors import ConfigurationError
    from gateway.logs import configure_logging
    from gateway.security.crypto import KeyRing
    from gateway.signing.keys import assert_production_ready

    settings = load_settings(**{**_settings(ctx).model_dump(), "host": host, "port": port})
    if settings.mode != "demo" and not settings.base_url:
        raise click.ClickException(
            "HGW_BASE_URL is not set: client assertions are checked against this gateway's public URL, which it "
            "must not guess from the requests (set it, e.g. https://gateway.example.nhs.uk)"
        )
    if settings.mode != "demo" and KeyRing(settings.data_dir).is_demo():
        raise click.ClickException(
            f"{settings.data_dir}/keys holds keys made by `hgw demo`; refusing to serve real traffic with them "
            "(use another HGW_DATA_DIR, or HGW_MODE=demo for a demonstration)"
        )
    configure_logging(settings.log_level)
    gw = build_gateway(settings)
    if settings.mode != "demo" and gw.signing is not None:
        try:
            assert_production_ready(gw.signing)
        except ConfigurationError as exc:
            raise click.ClickException(f"{exc} (remove them with `hgw keys remove KID` after a rotation)") from exc
    app = create_app(gw, dispose_on_shutdown=True)
    settle_heap()
    grace = settings.shutdown_grace_seconds
    # Proxy headers are read by the app, from HGW_TRUSTED_PROXIES only (gateway/security/client_address.py).
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=False,
        timeout_graceful_shutdown=grace,
    )
    # Requests still working in a thread after the grace period (bounded by HGW_REQUEST_CPU_SECONDS) must not hold
    # the exit: their transactions were not committed, and interpreter shutdown would wait for them.
    logging.shutdown()
    os._exit(0)


@cli.command()
@click.option("--once", is_flag=True, help="Exit 0 once every sample prescription is delivered, else non-zero.")
@click.option("--port", type=int, help="Port for the demo gateway (0 picks a free one).")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for delivery.")
@click.pass_context
def demo(ctx: click.Context, once: bool, port: int | None, timeout: float) -> None:
    """Start the gateway with a simulated trust and providers and print every timeline."""
    from gateway.simulate.demo import run_demo

    settings = load_settings(**{**_settings(ctx).model_dump(), "port": port})
    try:
        code = asyncio.run(run_demo(settings, once=once, timeout=timeout))
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)


def _register_commands() -> None:
    """Add every package's commands to `hgw` (imported here, once `cli` exists: the fault campaign imports it)."""
    from conformance.cli import conformance  # issue 10: conformance suites
    from gateway.alerts.cli import alerts  # issue 9: alert rules and alerts
    from gateway.audit.cli import audit
    from gateway.bench.cli import bench
    from gateway.console.cli import messages_group, operators_group, queue_dismiss  # issue 9: the operator console
    from gateway.delivery.cli import queue, replay, worker
    from gateway.intake.cli import ingest
    from gateway.invoicing.cli import invoices_group, prices_group, spend  # issue 20: price lists, spend, bills
    from gateway.kpis.cli import kpi  # issue 9: the national homecare KPIs
    from gateway.lifecycle.cli import lifecycle
    from gateway.operations.cli import organisations, providers, routes  # organisations: issue 15
    from gateway.security.cli import clients
    from gateway.signing.cli import RotateHook, build_keys_group
    from gateway.simulate.cli import simulate
    from gateway.store.cli import db
    from gateway.validator.cli import validate
    from gateway.webhooks.cli import webhooks

    def rotate_data(settings: Settings, _value: object) -> dict[str, Any]:
        from gateway.operations.key_rotation import rotate_data_key

        report = cli_support.run(settings, rotate_data_key)
        return {"key_id": report.key_id, "resealed": report.resealed}

    data_hook = RotateHook(
        name="data",
        option=click.Option(["--data"], is_flag=True, help="Rotate the data-at-rest key and re-seal every row."),
        run=rotate_data,
        exclusive=True,
    )
    keys = build_keys_group(rotate_hooks=[data_hook])
    queue.add_command(queue_dismiss)
    for command in (
        db, ingest, providers, routes, clients, simulate, bench, worker, validate, audit, lifecycle, queue, replay,
        operators_group, messages_group, keys, kpi, conformance, webhooks, alerts, prices_group, invoices_group, spend,
        organisations,
    ):  # fmt: skip
        cli.add_command(command)


_register_commands()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
