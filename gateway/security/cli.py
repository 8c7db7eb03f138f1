"""`hgw clients …`: API clients (trusts, providers, operators, testers), their keys and tokens. Output is JSON."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli_support import PLAIN, run, settings_of


@click.group()
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
    client = PLAIN.run(
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
    PLAIN.emit({"client_id": client.id, "role": client.role, "ods": client.ods, "alg": client.alg})


@clients.command("list")
@click.pass_context
def clients_list(ctx: click.Context) -> None:
    """Registered clients: role, ODS, state and live tokens (never their keys)."""
    from gateway.security.client_admin import list_clients

    PLAIN.emit([c.as_dict() for c in run(settings_of(ctx), list_clients)])


@clients.command("disable")
@click.argument("client_id")
@click.pass_context
def clients_disable(ctx: click.Context, client_id: str) -> None:
    """Disable a client: every token it holds stops working at once, and it gets no new one."""
    from gateway.security.client_admin import set_active

    PLAIN.emit(PLAIN.run(ctx, lambda gw: set_active(gw, client_id, False)).as_dict())


@clients.command("enable")
@click.argument("client_id")
@click.pass_context
def clients_enable(ctx: click.Context, client_id: str) -> None:
    """Enable a disabled client."""
    from gateway.security.client_admin import set_active

    PLAIN.emit(PLAIN.run(ctx, lambda gw: set_active(gw, client_id, True)).as_dict())


@clients.command("remove")
@click.argument("client_id")
@click.pass_context
def clients_remove(ctx: click.Context, client_id: str) -> None:
    """Remove a client with its tokens and used assertion ids (its audit trail stays)."""
    from gateway.security.client_admin import remove_client

    PLAIN.emit(PLAIN.run(ctx, lambda gw: remove_client(gw, client_id)))


@clients.command("purge")
@click.pass_context
def clients_purge(ctx: click.Context) -> None:
    """Delete used assertion ids and access tokens past their lifetime (the server does it every few minutes)."""
    from gateway.security.client_admin import purge_expired

    PLAIN.emit(run(settings_of(ctx), purge_expired).as_dict())


@clients.command("keygen")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Path prefix for the files written.")
@click.option("--alg", type=click.Choice(["ES384", "RS384", "RS512"]), default="ES384", show_default=True)
def clients_keygen(out: Path, alg: str) -> None:
    """Make a client key pair: OUT.key.json (private, keep it) and OUT.jwks.json (public, register it)."""
    from gateway.security.client_auth import write_client_key
    from gateway.security.client_keys import generate_client_keypair

    pem, jwks, kid = generate_client_keypair(alg)
    private_path, public_path = write_client_key(out, pem, jwks, kid, alg)
    PLAIN.emit({"private_key": str(private_path), "jwks": str(public_path), "kid": kid, "alg": alg})
