"""docker-compose.yml and the Dockerfile parse and only name `hgw` commands that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import yaml

from gateway.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def _resolves(argv: list[str]) -> bool:
    """True when `hgw argv…` names an existing (sub)command and its options parse."""
    command: click.Command = cli
    ctx = cli.make_context("hgw", [], resilient_parsing=True)
    args = list(argv)
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        sub = command.get_command(ctx, args.pop(0))
        if sub is None:
            return False
        command = sub
    if isinstance(command, click.Group):
        return False  # a group alone is not a command
    command.make_context("hgw", args)  # raises on unknown options or missing required ones
    return True


def _touch(tmp_path: Path, container_path: str) -> Path:
    path = tmp_path / Path(container_path).name
    path.touch()
    return path


def _hgw_invocations(text: str) -> list[list[str]]:
    return [shlex.split(m.group(1)) for m in re.finditer(r"\bhgw ((?:[^&|\"()]|'[^']*')+)", text)]


def test_compose_services_and_commands(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {"db", "gateway", "provider"}
    assert "postgresql://" in compose["services"]["gateway"]["environment"]["HGW_DATABASE_URL"]
    invocations = []
    for service in compose["services"].values():
        command = service.get("command")
        if isinstance(command, list):
            invocations.append(command[1:])
        elif isinstance(command, str):
            invocations.extend(_hgw_invocations(command))
    names = {" ".join(a[:2]) for a in invocations}
    assert {"db upgrade", "providers add", "routes add", "clients keygen", "clients add", "simulate provider"} <= (
        names | {a[0] for a in invocations}
    )
    for argv in invocations:
        # Files on the compose volumes exist only in the containers: point them at a real local file.
        local = [str(_touch(tmp_path, a)) if a.startswith("/keys/") else a for a in argv]
        assert _resolves(local), f"hgw {' '.join(argv)} is not a valid command"


def test_dockerfile_uses_hgw_commands() -> None:
    cmd = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    invocations = _hgw_invocations(cmd)
    assert [a[:2] for a in invocations] == [["db", "upgrade"], ["serve"]]
    for argv in invocations:
        assert _resolves(argv)


def test_resolver_rejects_unknown_commands() -> None:
    assert not _resolves(["frobnicate"])
    assert not _resolves(["db"])  # a group alone is not a command
    with __import__("pytest").raises(click.UsageError):
        _resolves(["providers", "add", "--bogus"])
