"""`hgw bench --faults`: the fault campaign on a scratch PostgreSQL database (SQLite when it is unreachable)."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg

from gateway.faults.campaign import CampaignConfig, run_campaign


def fault_figures(
    postgres_url: str, *, kills: int, prescriptions: int, pg_restarts: int, workers: int
) -> dict[str, Any]:
    """The campaign's JSON report. PostgreSQL restarts need the local cluster and root (pg_ctlcluster)."""
    admin_dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            conn = psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3)
        except psycopg.OperationalError:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'faults.sqlite3'}"
            return _run(url, Path(tmp), kills=kills, prescriptions=prescriptions, pg_restarts=0, workers=1)
        name = f"hgw_faults_{uuid.uuid4().hex[:8]}"
        with conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
            return _run(url, Path(tmp), kills=kills, prescriptions=prescriptions, pg_restarts=pg_restarts,
                        workers=workers)
        finally:
            # A new connection: the campaign restarted the server under the one above.
            with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=10) as again:
                again.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(url: str, tmp: Path, *, kills: int, prescriptions: int, pg_restarts: int, workers: int) -> dict[str, Any]:
    config = CampaignConfig(
        database_url=url,
        data_dir=tmp / "data",
        workers=workers,
        kills=kills,
        prescriptions=prescriptions,
        batch=10,
        pg_restarts=pg_restarts,
        stalls=1 if workers > 1 else 0,
    )
    return asyncio.run(run_campaign(config)).as_dict()
