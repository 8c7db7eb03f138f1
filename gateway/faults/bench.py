"""`hgw bench --faults`: the fault campaign on a scratch PostgreSQL database (SQLite when it is unreachable)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from gateway.bench import PostgresUnreachable, scratch_database
from gateway.faults.campaign import CampaignConfig, run_campaign


def fault_figures(
    postgres_url: str, *, kills: int, prescriptions: int, pg_restarts: int, workers: int
) -> dict[str, Any]:
    """The campaign's JSON report. PostgreSQL restarts need the local cluster and root (pg_ctlcluster)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            # scratch_database drops on a connection of its own: the campaign restarts the server meanwhile.
            with scratch_database(postgres_url, "hgw_faults") as url:
                return _run(url, Path(tmp), kills=kills, prescriptions=prescriptions, pg_restarts=pg_restarts,
                            workers=workers)
        except PostgresUnreachable:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'faults.sqlite3'}"
            return _run(url, Path(tmp), kills=kills, prescriptions=prescriptions, pg_restarts=0, workers=1)


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
