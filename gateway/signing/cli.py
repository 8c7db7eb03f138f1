"""`hgw keys`: the gateway's signing keys (list, rotate, remove). Settings come from `ctx.obj`.

The group is built by `build_keys_group` so that other key work can join it: `rotate_hooks` add options to
`hgw keys rotate` (e.g. `--data` for the data-at-rest key) whose work runs after, or instead of, the signing key
rotation and whose result joins the printed JSON; and the group takes further commands with `add_command`.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from gateway.errors import GatewayError
from gateway.settings import Settings
from gateway.signing.keys import SigningKeyStore


@dataclass(frozen=True, slots=True)
class RotateHook:
    """An extra option on `hgw keys rotate` and the work it triggers when given.

    `run(settings, value)` returns what to print under `name`. With `exclusive`, giving the option rotates only
    what the hook rotates, not the signing keys.
    """

    name: str
    option: click.Option
    run: Callable[[Settings, Any], Mapping[str, Any]]
    exclusive: bool = False


def build_keys_group(*, rotate_hooks: Sequence[RotateHook] = ()) -> click.Group:
    """The `keys` group; register it on the CLI with `cli.add_command(build_keys_group(...))`."""

    @click.group(name="keys")
    def keys() -> None:
        """The gateway's keys: signing keys (published at /.well-known/jwks.json)."""

    @keys.command("list")
    @click.pass_context
    def list_keys(ctx: click.Context) -> None:
        """Print the signing keys, newest first (no key material)."""
        settings = _settings(ctx)
        _run(lambda: [k.summary() for k in SigningKeyStore.open(settings.data_dir, settings.mode).keys()])

    @click.pass_context
    def rotate(ctx: click.Context, /, **options: Any) -> None:
        """Make a new current signing key; the old ones stay, retired, so their signatures still verify.

        Prints {"kid": NEW, "retired": [every retired kid kept, newest first]}.
        """
        settings = _settings(ctx)
        given = [hook for hook in rotate_hooks if options.get(_param_name(hook))]

        def work() -> dict[str, Any]:
            out: dict[str, Any] = {}
            if not any(hook.exclusive for hook in given):
                rotation = SigningKeyStore.open(settings.data_dir, settings.mode).rotate()
                out = {"kid": rotation.current.kid, "retired": rotation.retired}
            for hook in given:
                out[hook.name] = dict(hook.run(settings, options[_param_name(hook)]))
            return out

        _run(work)

    keys.add_command(click.Command("rotate", callback=rotate, params=[h.option for h in rotate_hooks],
                                   help=inspect.cleandoc(rotate.__doc__ or "")))  # fmt: skip

    @keys.command("remove")
    @click.argument("kid")
    @click.pass_context
    def remove(ctx: click.Context, kid: str) -> None:
        """Delete a retired signing key: bundles it signed no longer verify (use it for demo keys).

        A kid is a base64url thumbprint and may start with "-": write `hgw keys remove -- KID`.
        """
        settings = _settings(ctx)

        def work() -> dict[str, Any]:
            SigningKeyStore.open(settings.data_dir, settings.mode).remove(kid)
            return {"removed": kid}

        _run(work)

    return keys


def _param_name(hook: RotateHook) -> str:
    if hook.option.name is None:
        raise ValueError(f"rotate hook {hook.name} has an option without a name")
    return hook.option.name


def _settings(ctx: click.Context) -> Settings:
    settings = ctx.find_object(Settings)
    if settings is None:
        raise click.UsageError("no settings: run as `hgw keys ...`")
    return settings


def _run(work: Callable[[], Any]) -> None:
    try:
        result = work()
    except GatewayError as exc:
        click.echo(json.dumps({"error": exc.code, "message": str(exc)}, indent=2))
        sys.exit(1)
    click.echo(json.dumps(result, indent=2, default=str))


keys = build_keys_group()
