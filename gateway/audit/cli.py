"""`hgw audit …`: checking the audit chain from the command line."""

from __future__ import annotations

import asyncio
import json
import sys

import click

from gateway.audit.errors import AuditError
from gateway.audit.sequencer import SequenceResult, sequence
from gateway.audit.verify import Anchor, VerifyResult, verify
from gateway.settings import Settings
from gateway.wiring import build_gateway


def _anchor(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Anchor | None:
    if value is None:
        return None
    try:
        return Anchor.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.group()
def audit() -> None:
    """The append-only audit trail."""


@audit.command("verify")
@click.option(
    "--anchor",
    callback=_anchor,
    metavar="SEQ:HASH",
    help='The "head" of an earlier run, kept elsewhere: also catches a removed or re-hashed tail.',
)
@click.pass_context
def verify_command(ctx: click.Context, anchor: Anchor | None) -> None:
    """Walk the chain and its signed heads and name the first tampered record; report the entries not chained yet.
    Exit 0 intact, 1 tampered, 2 unable to check."""
    settings: Settings = ctx.obj

    async def run() -> VerifyResult:
        gw = build_gateway(settings)
        try:
            return await verify(gw, anchor=anchor)
        finally:
            await gw.close()

    try:
        result = asyncio.run(run())
    except AuditError as exc:
        click.echo(json.dumps({"error": exc.code, "message": str(exc)}, indent=2))
        sys.exit(2)
    click.echo(json.dumps(result.as_json(), indent=2))
    sys.exit(0 if result.ok else 1)


@audit.command("sequence")
def sequence_command() -> None:
    """Chain every committed pending entry now and sign the head (servers do this in the background).
    Exit 0 done, 2 unable to."""
    settings: Settings = click.get_current_context().obj

    async def run() -> SequenceResult:
        gw = build_gateway(settings)
        try:
            return await sequence(gw, sign=True, wait=True)
        finally:
            await gw.close()

    try:
        result = asyncio.run(run())
    except AuditError as exc:
        click.echo(json.dumps({"error": exc.code, "message": str(exc)}))
        sys.exit(2)
    click.echo(json.dumps(result.as_json()))
