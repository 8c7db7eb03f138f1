"""What every `hgw` command group shares: run a coroutine against a gateway, print JSON, fail with exit code 1.

The command groups (gateway/cli.py and each package's cli.py) all build a gateway from the
settings the root `hgw` group put on the click context, run one service call, close the gateway, and print
the answer as JSON; a GatewayError becomes `{"error", "message", "issues"}` on stdout and exit code 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import click

from gateway.context import Gateway
from gateway.errors import GatewayError, InputError
from gateway.settings import Settings
from gateway.wiring import build_gateway

T = TypeVar("T")
JsonDefault = Callable[[Any], str]


def settings_of(ctx: click.Context) -> Settings:
    """The settings the root `hgw` group loaded (click hands ctx.obj down to every subcommand)."""
    settings: Settings = ctx.obj
    return settings


def iso_or_str(value: object) -> str:
    """JSON fallback that writes times as ISO 8601 (`T` separator) and anything else with str()."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def iso_time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """Option callback: an ISO 8601 time; one without an offset is taken as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("an ISO 8601 time, e.g. 2026-11-22T09:00:00+00:00") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run(settings: Settings, work: Callable[[Gateway], Awaitable[T]]) -> T:
    """Build a gateway, await `work` on it, and close it again whatever happens; errors propagate."""

    async def main() -> T:
        gw = build_gateway(settings)
        try:
            return await work(gw)
        finally:
            await gw.close()

    return asyncio.run(main())


def error_body(exc: GatewayError) -> dict[str, Any]:
    """The JSON a command prints for a GatewayError: its code, message and located issues."""
    issues = exc.issues if isinstance(exc, InputError) else []
    return {"error": exc.code, "message": str(exc), "issues": [i.as_dict() for i in issues]}


@dataclass(frozen=True)
class JsonOutput:
    """How a command group prints: indented JSON, with `default` for what json cannot write itself.

    The groups differ only there (some print times with str(), some as ISO 8601), and their output is public.
    """

    default: JsonDefault = str

    def emit(self, obj: Any) -> None:
        """Print `obj` as indented JSON."""
        click.echo(json.dumps(obj, indent=2, default=self.default))

    def fail(self, exc: GatewayError) -> NoReturn:
        """Print the error as JSON (see `error_body`) and exit with code 1."""
        self.emit(error_body(exc))
        sys.exit(1)

    def run(self, ctx: click.Context, work: Callable[[Gateway], Awaitable[T]]) -> T:
        """`run` with the context's settings; a GatewayError is printed and ends the command (see `fail`)."""
        try:
            return run(settings_of(ctx), work)
        except GatewayError as exc:
            self.fail(exc)


PLAIN = JsonOutput()
ISO_TIMES = JsonOutput(iso_or_str)
