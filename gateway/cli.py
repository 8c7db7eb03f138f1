"""The `hgw` command line. Every option can also be set as an `HGW_` environment variable."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from gateway import cli_support
from gateway.settings import Settings, load_settings
from gateway.wiring import build_gateway

# The helpers every command group shares (gateway/cli_support.py), under the names this module has always used.
_settings = cli_support.settings_of
_run = cli_support.run
_emit = cli_support.PLAIN.emit
_fail = cli_support.PLAIN.fail
_run_or_fail = cli_support.PLAIN.run


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


@cli.group()
def db() -> None:
    """Database administration."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply the Alembic migrations."""
    from gateway.store.migrate import upgrade

    settings = _settings(ctx)
    upgrade(settings.effective_database_url, revision)
    _emit({"database": settings.effective_database_url.split("@")[-1], "revision": revision})


@cli.command()
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
    directory = offline_directory(_settings(click.get_current_context()))
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


@cli.group()
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

    p = _run_or_fail(ctx, lambda gw: admin.add_provider(gw, ods=ods, name=name, mode=mode, endpoint=endpoint))
    _emit({"ods": p.ods, "name": p.name, "mode": p.mode, "endpoint": p.endpoint, "active": p.active})


@providers.command("list")
@click.pass_context
def providers_list(ctx: click.Context) -> None:
    from gateway.operations import admin

    rows = _run(_settings(ctx), admin.providers)
    _emit([{"ods": p.ods, "name": p.name, "mode": p.mode, "endpoint": p.endpoint, "active": p.active} for p in rows])


@cli.group()
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

    rule = _run_or_fail(
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
    _emit(rule.model_dump(exclude={"created_at"}))


@routes.command("list")
@click.pass_context
def routes_list(ctx: click.Context) -> None:
    from gateway.operations import admin

    _emit([r.model_dump(exclude={"created_at"}) for r in _run(_settings(ctx), admin.routes)])


# --- routing administration (issue 7): provider updates, rule edits and removal --------------------------------------
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

    p = _run_or_fail(
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
    _emit({"ods": p.ods, "name": p.name, "mode": p.mode, "endpoint": p.endpoint, "active": p.active})


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

    rule = _run_or_fail(
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
    _emit(rule.model_dump(exclude={"created_at"}))


@routes.command("remove")
@click.argument("rule_id", type=int)
@click.pass_context
def routes_remove(ctx: click.Context, rule_id: int) -> None:
    """Remove a routing rule (prescriptions it routed keep their provider)."""
    from gateway.operations import admin

    rule = _run_or_fail(ctx, lambda gw: admin.remove_route(gw, rule_id))
    _emit({"removed": rule.id, "provider_ods": rule.provider_ods})


@routes.command("route-held")
@click.option("--limit", type=int, default=200, show_default=True)
@click.pass_context
def routes_route_held(ctx: click.Context, limit: int) -> None:
    """Route held prescriptions again with today's rules (after adding a rule or switching a provider on)."""
    import dataclasses

    from gateway.operations import admin

    outcomes = _run_or_fail(ctx, lambda gw: admin.route_held(gw, limit=limit))
    _emit({"routed": [dataclasses.asdict(o) for o in outcomes]})


@cli.group()
def clients() -> None:
    """API clients (trusts, providers, operators, testers) and their keys."""


@clients.command("add")
@click.option("--role", type=click.Choice(["trust", "provider", "operator", "tester"]), required=True)
@click.option("--ods", required=True, help="The organisation the client acts for: its tenant.")
@click.option("--jwks", "jwks_source", required=True, help="The client's public JWKS: a file or an https URL.")
@click.option("--alg", type=click.Choice(["RS384", "ES384", "RS512"]), help="Pin the assertion algorithm.")
@click.option("--client-id", help="Choose the client id (default: a new UUID).")
@click.pass_context
def clients_add(
    ctx: click.Context, role: str, ods: str, jwks_source: str, alg: str | None, client_id: str | None
) -> None:
    """Register a client; prints {"client_id": ...}."""
    from gateway.security.clients import add_client

    is_url = jwks_source.startswith(("https://", "http://"))
    jwks = None if is_url else Path(jwks_source).read_text()
    client = _run_or_fail(
        ctx,
        lambda gw: add_client(
            gw,
            role=role,
            ods=ods,
            jwks=jwks,
            jwks_url=jwks_source if is_url else None,
            alg=alg,
            client_id=client_id,
        ),
    )
    _emit({"client_id": client.id, "role": client.role, "ods": client.ods, "alg": client.alg})


@clients.command("list")
@click.pass_context
def clients_list(ctx: click.Context) -> None:
    """Registered clients: role, ODS, state and live tokens (never their keys)."""
    from gateway.security.client_admin import list_clients

    _emit([c.as_dict() for c in _run(_settings(ctx), list_clients)])


@clients.command("disable")
@click.argument("client_id")
@click.pass_context
def clients_disable(ctx: click.Context, client_id: str) -> None:
    """Disable a client: every token it holds stops working at once, and it gets no new one."""
    from gateway.security.client_admin import set_active

    _emit(_run_or_fail(ctx, lambda gw: set_active(gw, client_id, False)).as_dict())


@clients.command("enable")
@click.argument("client_id")
@click.pass_context
def clients_enable(ctx: click.Context, client_id: str) -> None:
    """Enable a disabled client."""
    from gateway.security.client_admin import set_active

    _emit(_run_or_fail(ctx, lambda gw: set_active(gw, client_id, True)).as_dict())


@clients.command("remove")
@click.argument("client_id")
@click.pass_context
def clients_remove(ctx: click.Context, client_id: str) -> None:
    """Remove a client with its tokens and used assertion ids (its audit trail stays)."""
    from gateway.security.client_admin import remove_client

    _emit(_run_or_fail(ctx, lambda gw: remove_client(gw, client_id)))


@clients.command("purge")
@click.pass_context
def clients_purge(ctx: click.Context) -> None:
    """Delete used assertion ids and access tokens past their lifetime (the server does it every few minutes)."""
    from gateway.security.client_admin import purge_expired

    _emit(_run(_settings(ctx), purge_expired).as_dict())


@clients.command("keygen")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Path prefix for the files written.")
@click.option("--alg", type=click.Choice(["ES384", "RS384", "RS512"]), default="ES384", show_default=True)
def clients_keygen(out: Path, alg: str) -> None:
    """Make a client key pair: OUT.key.json (private, keep it) and OUT.jwks.json (public, register it)."""
    from gateway.security.client_auth import write_client_key
    from gateway.security.keys import generate_client_keypair

    pem, jwks, kid = generate_client_keypair(alg)
    private_path, public_path = write_client_key(out, pem, jwks, kid, alg)
    _emit({"private_key": str(private_path), "jwks": str(public_path), "kid": kid, "alg": alg})


@cli.group()
def simulate() -> None:
    """Reference simulators of the other side."""


@simulate.command("provider")
@click.option("--gateway", "gateway_url", required=True, help="Base URL of the gateway.")
@click.option("--ods", required=True, help="The provider's ODS code.")
@click.option("--client-id", required=True, help="The provider's registered client id.")
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The private key file from `hgw clients keygen`.",
)
@click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds between empty polls.")
def simulate_provider(gateway_url: str, ods: str, client_id: str, key_file: Path, interval: float) -> None:
    """Poll, acknowledge, dispense and deliver, until Ctrl-C."""
    from gateway.simulate.provider import SimulatedProvider

    async def main() -> None:
        async with _authenticated(gateway_url, client_id, key_file) as client:
            await SimulatedProvider(client, ods).run(interval=interval)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


@simulate.command("trust")
@click.option("--gateway", "gateway_url", required=True, help="Base URL of the gateway.")
@click.option("--count", type=int, default=5, show_default=True, help="Prescriptions in the export.")
@click.option("--trust", "trust_ods", default="RBA", show_default=True)
@click.option("--provider", "provider_ods", help="ProviderODS to put on every row (blank: routing decides).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--client-id", required=True, help="The trust's registered client id.")
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The private key file from `hgw clients keygen`.",
)
def simulate_trust(
    gateway_url: str, count: int, trust_ods: str, provider_ods: str | None, seed: int, client_id: str, key_file: Path
) -> None:
    """Post one generated JAC export and print the gateway's answer."""
    from gateway.simulate.trust import post_sample_export

    async def main() -> dict[str, Any]:
        async with _authenticated(gateway_url, client_id, key_file) as client:
            return await post_sample_export(client, count, seed=seed, trust_ods=trust_ods, provider_ods=provider_ods)

    _emit(asyncio.run(main()))


@cli.command()
@click.option("--prescriptions", type=int, default=5000, show_default=True)
@click.option(
    "--postgres-url",
    envvar="HGW_BENCH_POSTGRES_URL",
    default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
    show_default=True,
)
@click.option(
    "--naive-sample", type=int, default=1000, show_default=True, help="Bundles built the naive way for the ratio."
)
@click.option("--delivery", is_flag=True, help="Only the delivery figures: push latency, poll + ack, push throughput.")
@click.option("--faults", is_flag=True, help="Run the delivery fault campaign and print its report instead.")
@click.option("--quick", is_flag=True, help="Every figure, small (a minute on an idle machine): CI smoke.")
@click.option("--orders", type=int, default=500, show_default=True, help="Orders per push delivery figure.")
@click.option(
    "--poll-orders",
    type=int,
    default=8000,
    show_default=True,
    help="Orders per poll + acknowledge figure (each released and acknowledged; a second or more of work).",
)
@click.option("--latency-samples", type=int, default=50, show_default=True, help="Orders timed for push latency.")
@click.option(
    "--open-loop-seconds", type=float, default=5.0, show_default=True, help="Seconds of 1,000 push messages/s offered."
)
@click.option("--kills", type=int, default=200, show_default=True, help="--faults: SIGKILLs of worker processes.")
@click.option("--fault-orders", type=int, default=300, show_default=True, help="--faults: prescriptions sent.")
@click.option("--workers", type=int, default=4, show_default=True, help="--faults: worker processes at a time.")
@click.option(
    "--pg-restarts", type=int, default=1, show_default=True, help="--faults: PostgreSQL restarts (pg_ctlcluster, root)."
)
@click.option(
    "--api-kills", type=int, default=20, show_default=True,
    help="--faults: SIGKILLs of API server processes (0: no API campaign).",
)
@click.option(
    "--api-orders", type=int, default=60, show_default=True, help="--faults: prescriptions the API campaign sends."
)
def bench(
    prescriptions: int,
    postgres_url: str,
    naive_sample: int,
    delivery: bool,
    faults: bool,
    quick: bool,
    orders: int,
    poll_orders: int,
    latency_samples: int,
    open_loop_seconds: float,
    kills: int,
    fault_orders: int,
    workers: int,
    pg_restarts: int,
    api_kills: int,
    api_orders: int,
) -> None:
    """Print benchmark figures as JSON."""
    if faults:
        from gateway.bench.faults.figures import fault_figures

        report = fault_figures(
            postgres_url, kills=kills, prescriptions=fault_orders, pg_restarts=pg_restarts, workers=workers,
            api_kills=api_kills, api_prescriptions=api_orders,
        )
        _emit(report)
        sys.exit(0 if report["passed"] else 1)
    from gateway.bench.delivery_figures import delivery_figures
    from gateway.bench.healthz import healthz_figures
    from gateway.bench.ingest import peak_rss_mb, run_bench
    from gateway.bench.summary import QUICK, Sizes, summary

    sizes = QUICK if quick else Sizes(
        prescriptions, naive_sample, 200, 2000, poll_orders, orders, latency_samples, open_loop_seconds
    )
    figures: dict[str, Any] = {"quick": quick}
    if not delivery:
        figures |= run_bench(
            prescriptions=sizes.prescriptions, postgres_url=postgres_url, naive_sample=sizes.naive_sample,
            validator_runs=sizes.validator_runs, format_prescriptions=sizes.format_prescriptions,
        )
        figures["healthz_under_heaviest"] = healthz_figures(
            5000 if not quick else sizes.prescriptions, 200_000 if not quick else 20_000
        )
    figures["delivery"] = delivery_figures(
        postgres_url, latency_samples=sizes.latency_samples, poll_orders=sizes.poll_orders,
        push_orders=sizes.push_orders, open_loop_seconds=sizes.open_loop_seconds,
    )
    figures["peak_rss_mb"] = peak_rss_mb()
    figures["summary"] = summary(figures)
    _emit(figures)


@cli.command()
@click.option("--count", type=int, help="Worker loops in this process [default: HGW_PUSH_WORKERS, at least 1].")
@click.option("--poll", type=float, default=1.0, show_default=True, help="Seconds between looks when idle.")
@click.pass_context
def worker(ctx: click.Context, count: int | None, poll: float) -> None:
    """Deliver push orders in this process, without the HTTP server; run one per machine or core (PostgreSQL)."""
    from gateway.delivery.process import run_worker_process
    from gateway.logs import configure_logging

    settings = _settings(ctx)
    configure_logging(settings.log_level)
    loops = count if count is not None else max(settings.push_workers, 1)
    if loops < 1 or poll <= 0:
        raise click.BadParameter("--count must be at least 1 and --poll positive")

    async def main() -> None:
        await run_worker_process(build_gateway(settings), count=loops, poll=poll)

    asyncio.run(main())


def _authenticated(gateway_url: str, client_id: str, key_file: Path) -> Any:
    import httpx

    from gateway.security.client_auth import ClientCredentialsAuth, read_client_key

    auth = ClientCredentialsAuth(read_client_key(key_file, client_id), f"{gateway_url.rstrip('/')}/oauth2/token")
    return httpx.AsyncClient(base_url=gateway_url, timeout=60, auth=auth)


def _register_commands() -> None:
    from gateway.audit.cli import audit
    from gateway.delivery.cli import queue, replay
    from gateway.signing.cli import RotateHook, build_keys_group
    from gateway.validator.cli import validate

    def rotate_data(settings: Settings, _value: object) -> dict[str, Any]:
        from gateway.operations.key_rotation import rotate_data_key

        report = _run(settings, rotate_data_key)
        return {"key_id": report.key_id, "resealed": report.resealed}

    data_hook = RotateHook(
        name="data",
        option=click.Option(["--data"], is_flag=True, help="Rotate the data-at-rest key and re-seal every row."),
        run=rotate_data,
        exclusive=True,
    )
    from gateway.lifecycle.cli import lifecycle

    cli.add_command(validate)
    cli.add_command(audit)
    cli.add_command(lifecycle)
    cli.add_command(queue)
    cli.add_command(replay)
    # operator console (issue 9): accounts, the message browser, dead letters
    from gateway.console.cli import messages_group, operators_group, queue_dismiss

    cli.add_command(operators_group)
    cli.add_command(messages_group)
    queue.add_command(queue_dismiss)
    cli.add_command(build_keys_group(rotate_hooks=[data_hook]))
    from gateway.kpis.cli import kpi  # issue 9: the national homecare KPIs

    cli.add_command(kpi)
    from conformance.cli import conformance  # issue 10: conformance suites
    from gateway.simulate.cli import provider_endpoint

    cli.add_command(conformance)
    simulate.add_command(provider_endpoint)
    from gateway.webhooks.cli import webhooks

    cli.add_command(webhooks)
    from gateway.alerts.cli import alerts  # issue 9: alert rules and alerts

    cli.add_command(alerts)
    from gateway.invoicing.cli import prices_group, spend  # issue 20: price lists and spend

    cli.add_command(prices_group)
    cli.add_command(spend)
    from gateway.operations.organisations_cli import organisations  # issue 15: what EPS needs that exports do not carry

    cli.add_command(organisations)


_register_commands()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
