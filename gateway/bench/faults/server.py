"""A campaign API server: `hgw serve` itself, in a process that may SIGKILL itself at the worst moment.

    python -m gateway.bench.faults.server     # settings from HGW_* as for `hgw serve`; HGW_FAULTS_DOOM=KIND:N

The API campaign (`gateway.bench.faults.api_campaign`) kills servers from outside at random; a random signal mostly
lands between requests or in the middle of one. The windows the issue names are narrower, so a server started
with a doom kills itself in one of them, at the N-th such moment while a request is in flight:

- `before-commit`: at a COMMIT, before it is sent: the request's transaction (an ingest, a `$release`, an
  acknowledgement) is lost whole;
- `after-commit`: right after a COMMIT succeeded: the effect is stored, its answer neither sent nor stored for
  the idempotency key;
- `mid-body`: half-way through sending an answer body over 512 bytes (an export report, a `$release` bundle).

Before dying it writes `<HGW_FAULTS_KILL_DIR>/<pid>` naming the doom, so that the campaign can tell its own
kills from the server's. What runs is `gateway.cli`'s `serve` command, unchanged apart from these hooks.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

DOOMS = ("before-commit", "after-commit", "mid-body")
MID_BODY_MIN = 512


class _Doom:
    kind: str | None = None
    countdown: int = 0
    in_flight: int = 0
    kill_dir: Path | None = None


def _die(kind: str) -> None:
    if _Doom.kill_dir is not None:
        (_Doom.kill_dir / str(os.getpid())).write_text(kind)
    os.kill(os.getpid(), signal.SIGKILL)


def _moment(kind: str) -> bool:
    """True when this is the moment the doom names (counting only while a request is in flight)."""
    if _Doom.kind != kind or _Doom.in_flight == 0:
        return False
    _Doom.countdown -= 1
    return _Doom.countdown <= 0


def _before_commit(_connection: Any) -> None:
    if _moment("before-commit"):
        _die("before-commit")


def _after_commit(_session: Any) -> None:
    if _moment("after-commit"):
        _die("after-commit")


class DoomMiddleware:
    """Counts requests in flight; with the `mid-body` doom, sends half of an answer's body and dies."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def doomed_send(message: Any) -> None:
            body = message.get("body", b"") if message["type"] == "http.response.body" else b""
            if len(body) > MID_BODY_MIN and _moment("mid-body"):
                await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
                _die("mid-body")
            await send(message)

        _Doom.in_flight += 1
        try:
            await self.app(scope, receive, doomed_send)
        finally:
            _Doom.in_flight -= 1


def install(doom: str | None, kill_dir: str | None) -> None:
    """Arm `doom` (`KIND:N`, or nothing) and wrap the app `hgw serve` builds."""
    import gateway.app as app_module

    if doom:
        kind, _, count = doom.partition(":")
        if kind not in DOOMS or not count.isdigit():
            raise SystemExit(f"HGW_FAULTS_DOOM must be one of {', '.join(DOOMS)} then :N, got {doom!r}")
        _Doom.kind, _Doom.countdown = kind, int(count)
    _Doom.kill_dir = Path(kill_dir) if kill_dir else None
    event.listen(Engine, "commit", _before_commit)
    event.listen(Session, "after_commit", _after_commit)
    create_app = app_module.create_app

    def create_doomed_app(*args: Any, **kwargs: Any) -> Any:
        return DoomMiddleware(create_app(*args, **kwargs))

    app_module.create_app = create_doomed_app


def preload() -> None:
    """Import what `main` runs, without starting anything: for a fork server (`gateway.bench.faults.zygote`)."""
    import gateway.app
    import gateway.cli  # noqa: F401


def main() -> None:
    from gateway.cli import cli

    install(os.environ.get("HGW_FAULTS_DOOM"), os.environ.get("HGW_FAULTS_KILL_DIR"))
    cli(["serve"])


if __name__ == "__main__":
    main()
