"""`hgw keys list|rotate|remove`, run through click with settings in ctx.obj, and the rotate hook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner

from gateway.settings import Settings
from gateway.signing.cli import RotateHook, build_keys_group, keys
from gateway.signing.keys import SigningKeyStore


def run(group: click.Group, settings: Settings, *args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(group, list(args), obj=settings)
    return result.exit_code, json.loads(result.output) if result.output.strip() else None


def test_list_is_empty_and_makes_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mode="test")
    assert run(keys, settings, "list") == (0, [])
    assert SigningKeyStore.open(tmp_path, "test").keys() == []


def test_rotate_then_list(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mode="production")
    code, first = run(keys, settings, "rotate")
    assert code == 0 and first["retired"] == []
    code, second = run(keys, settings, "rotate")
    assert code == 0 and second["retired"] == [first["kid"]] and second["kid"] != first["kid"]
    code, listed = run(keys, settings, "list")
    assert [(k["kid"], k["status"], k["demo"]) for k in listed] == [
        (second["kid"], "current", False),
        (first["kid"], "retired", False),
    ]
    assert all("private_key_pem" not in k for k in listed)


def test_remove_a_demo_key(tmp_path: Path) -> None:
    demo_kid = SigningKeyStore.load_or_create(tmp_path, "demo").current().kid
    settings = Settings(data_dir=tmp_path, mode="production")
    code, rotated = run(keys, settings, "rotate")
    assert rotated["retired"] == [demo_kid]
    # A thumbprint may start with "-": "--" ends the options, as the command's help says.
    assert run(keys, settings, "remove", "--", demo_kid) == (0, {"removed": demo_kid})
    code, failed = run(keys, settings, "remove", "--", rotated["kid"])
    assert code == 1 and failed["error"] == "SIGNING_KEY_ERROR" and "current key" in failed["message"]


def test_rotate_hooks_add_options_and_output(tmp_path: Path) -> None:
    seen: list[tuple[Path, Any]] = []

    def reseal(settings: Settings, value: Any) -> dict[str, Any]:
        seen.append((settings.data_dir, value))
        return {"resealed": 3}

    data = RotateHook("data", click.Option(["--data"], is_flag=True, help="Rotate the data key."), reseal)
    only = RotateHook("only", click.Option(["--only"], is_flag=True), reseal, exclusive=True)
    group = build_keys_group(rotate_hooks=[data, only])
    settings = Settings(data_dir=tmp_path, mode="test")

    code, plain = run(group, settings, "rotate")
    assert code == 0 and set(plain) == {"kid", "retired"} and seen == []
    code, both = run(group, settings, "rotate", "--data")
    assert both["data"] == {"resealed": 3} and both["retired"] == [plain["kid"]]
    assert seen == [(tmp_path, True)]
    code, alone = run(group, settings, "rotate", "--only")
    assert alone == {"only": {"resealed": 3}}
    assert len(SigningKeyStore.open(tmp_path, "test").keys()) == 2  # --only rotated no signing key
    assert "--data" in CliRunner().invoke(group, ["rotate", "--help"], obj=settings).output


def test_group_takes_more_commands(tmp_path: Path) -> None:
    group = build_keys_group()

    @group.command("ping")
    def ping() -> None:
        click.echo('"pong"')

    assert run(group, Settings(data_dir=tmp_path, mode="test"), "ping") == (0, "pong")
