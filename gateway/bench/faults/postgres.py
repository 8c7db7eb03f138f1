"""Restarting the local PostgreSQL cluster mid-campaign, and always bringing it back.

The cluster is the Debian one serving the campaign's database: `pg_ctlcluster --skip-systemctl-redirect
<version> main restart` (the campaign runs as root on the test machine). `ensure_up` runs in the campaign's
`finally`: whatever happened, PostgreSQL is accepting connections again before the campaign returns.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from sqlalchemy import make_url

from gateway.store.scratch import accepting

CONF_DIR = Path("/etc/postgresql")


class PostgresControlError(RuntimeError):
    """The cluster could not be restarted or did not come back."""


def cluster_version() -> str:
    versions = sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir()) if CONF_DIR.is_dir() else []
    if not versions:
        raise PostgresControlError(f"no PostgreSQL cluster under {CONF_DIR}")
    return versions[-1]


def _ctl(action: str) -> None:
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", cluster_version(), "main", action]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    if done.returncode != 0:
        raise PostgresControlError(f"{' '.join(command)} failed: {done.stderr.strip() or done.stdout.strip()}")


def libpq_dsn(database_url: str) -> str:
    """The libpq form of the campaign's SQLAlchemy URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def wait_accepting(dsn: str, timeout: float = 60.0) -> float:
    """Seconds until `dsn` accepts connections; PostgresControlError after `timeout`."""
    start = time.monotonic()
    while not accepting(dsn):
        if time.monotonic() - start > timeout:
            raise PostgresControlError(f"PostgreSQL did not accept connections within {timeout:g} s")
        time.sleep(0.05)
    return time.monotonic() - start


def restart(dsn: str) -> float:
    """Restart the cluster (fast shutdown: every session is cut) and wait until it accepts connections again;
    the seconds it was unavailable."""
    start = time.monotonic()
    try:
        _ctl("restart")
    finally:
        ensure_up(dsn)
    return time.monotonic() - start


def ensure_up(dsn: str) -> None:
    """Start the cluster if it does not answer, then wait until it accepts connections."""
    if accepting(dsn):
        return
    try:
        _ctl("start")
    except PostgresControlError:
        pass  # already starting, or started meanwhile: waiting tells
    wait_accepting(dsn)
