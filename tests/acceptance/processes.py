"""Running `hgw` as a subprocess, as an operator would: without the HGW_ settings of the machine running the tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

HGW = [sys.executable, "-m", "gateway.cli"]


def clean_env() -> dict[str, str]:
    """This process's environment without its HGW_ settings (a developer's or CI's must not leak into a test)."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("HGW_")}


def hgw(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`hgw ARGS…` to the end; its output as text. `env` defaults to `clean_env()`."""
    return subprocess.run(  # noqa: S603 - our own CLI, arguments from the tests
        [*HGW, *args],
        cwd=cwd,
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    """A loopback port nothing listens on right now (for a server started as a subprocess)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
