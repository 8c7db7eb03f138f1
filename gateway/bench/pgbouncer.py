"""A PgBouncer in transaction mode on a loopback port, for `hgw bench --scale-out` and the integration tests.

Debian's `pgbouncer` binary, run with a configuration written to a temporary folder: every database of the
PostgreSQL server behind `postgres_url` (the `*` entry), clients trusted on loopback, `pool_mode = transaction`.
PgBouncer refuses to run as root, so as root it is started with `-u postgres` (it reads its configuration first).
The gateway's side of it is one setting, `HGW_DB_PGBOUNCER=true` (docs/scale-out.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from gateway.store.scratch import accepting

START_SECONDS = 15.0


class PgBouncerMissing(RuntimeError):
    """There is no `pgbouncer` binary on this machine (Debian: `apt-get install pgbouncer`)."""


def pgbouncer_binary() -> str | None:
    """The binary's path: on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH)."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


@dataclass(frozen=True, slots=True)
class PgBouncer:
    """A running PgBouncer: its port, and the way to the server's databases through it."""

    port: int
    log: Path

    def url_for(self, database_url: str) -> str:
        """`database_url` (a database of the server behind this PgBouncer) through this PgBouncer."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)


def config_text(postgres_url: str, port: int, auth_file: Path, *, pool_size: int, max_client_conn: int) -> str:
    """The configuration: every database of `postgres_url`'s server, in transaction mode, on 127.0.0.1:`port`."""
    server = make_url(postgres_url)
    target = f"host={server.host or '127.0.0.1'} port={server.port or 5432} user={server.username or 'postgres'}"
    if server.password:
        target += f" password={server.password}"
    return "\n".join([
        "[databases]",
        f"* = {target}",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        "unix_socket_dir =",
        "auth_type = trust",
        f"auth_file = {auth_file}",
        "pool_mode = transaction",
        f"default_pool_size = {pool_size}",
        f"max_client_conn = {max_client_conn}",
        "ignore_startup_parameters = extra_float_digits",
        "",
    ])


@contextlib.contextmanager
def pgbouncer(postgres_url: str, *, pool_size: int = 20, max_client_conn: int = 400) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction mode in front of `postgres_url`'s server, `pool_size` server connections per
    database; stopped on exit. PgBouncerMissing without the binary."""
    binary = pgbouncer_binary()
    if binary is None:
        raise PgBouncerMissing("no pgbouncer binary (Debian: apt-get install pgbouncer)")
    user = make_url(postgres_url).username or "postgres"
    with tempfile.TemporaryDirectory(prefix="hgw_pgbouncer_") as tmp:
        folder = Path(tmp)
        auth_file = folder / "users.txt"
        auth_file.write_text(f'"{user}" ""\n')
        port = _free_port()
        config = folder / "pgbouncer.ini"
        config.write_text(
            config_text(postgres_url, port, auth_file, pool_size=pool_size, max_client_conn=max_client_conn)
        )
        command = [binary, *(["-u", "postgres"] if os.geteuid() == 0 else []), str(config)]
        log = folder / "pgbouncer.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            running = PgBouncer(port, log)
            _until_accepting(process, running.url_for(postgres_url), log)
            yield running
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _until_accepting(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    deadline = time.monotonic() + START_SECONDS
    while not accepting(dsn):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"pgbouncer did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)
