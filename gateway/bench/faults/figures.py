"""`hgw bench --faults`: the fault campaigns on scratch PostgreSQL databases (SQLite when it is unreachable).

First the delivery campaign (push worker processes SIGKILLed, PostgreSQL restarted: `campaign.py`), then the API
campaign (`hgw serve` processes SIGKILLed: `api_campaign.py`), each on a database of its own. The report keeps the
delivery campaign's keys at the top level, adds the API campaign's report under `api`, and totals, per kind of
effect (`effects`) and overall: `worker_kills`, `api_kills`, `relay_kills`, `pg_restarts` (both campaigns'),
`lost`, `duplicate_effects`, `stuck` and `out_of_order` (webhook events); it passes only when both campaigns did.
`pg_restarts` PostgreSQL restarts happen in each campaign.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from gateway.bench.faults.api_campaign import ApiCampaignConfig, run_api_campaign
from gateway.bench.faults.campaign import CampaignConfig, run_campaign
from gateway.store.scratch import PostgresUnreachable, scratch_database


def fault_figures(
    postgres_url: str,
    *,
    kills: int,
    prescriptions: int,
    pg_restarts: int,
    workers: int,
    api_kills: int = 20,
    api_prescriptions: int = 60,
) -> dict[str, Any]:
    """The campaigns' JSON report. PostgreSQL restarts need the local cluster and root (pg_ctlcluster);
    `api_kills` 0 leaves the API campaign out."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            # scratch_database drops on a connection of its own: the campaign restarts the server meanwhile.
            with scratch_database(postgres_url, "hgw_faults") as url:
                report = _run(url, Path(tmp), kills=kills, prescriptions=prescriptions, pg_restarts=pg_restarts,
                              workers=workers)
            if api_kills:
                with scratch_database(postgres_url, "hgw_api_faults") as url:
                    report["api"] = _run_api(
                        url, Path(tmp) / "api", kills=api_kills, prescriptions=api_prescriptions,
                        pg_restarts=pg_restarts,
                    )  # fmt: skip
        except PostgresUnreachable:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'faults.sqlite3'}"
            report = _run(url, Path(tmp), kills=kills, prescriptions=prescriptions, pg_restarts=0, workers=1)
            if api_kills:
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'api-faults.sqlite3'}"
                report["api"] = _run_api(url, Path(tmp) / "api", kills=api_kills, prescriptions=api_prescriptions)
    return combined(report)


def combined(report: dict[str, Any]) -> dict[str, Any]:
    """The delivery campaign's report with the API campaign's (under `api`, when it ran) totalled in."""
    worker = {
        "lost": report["lost"], "duplicate_effects": report["duplicate_effects"], "stuck": report["stuck_in_flight"]
    }
    effects: dict[str, dict[str, int]] = {"push delivery": worker}
    api = report.get("api")
    if api is not None:
        effects |= {kind: {k: figures[k] for k in worker} for kind, figures in api["effects"].items()}
    return {
        **report,
        "worker_kills": report["kills"],
        "api_kills": api["api_kills"] if api is not None else 0,
        "relay_kills": api["relay_kills"] if api is not None else 0,
        "pg_restarts": report["pg_restarts"] + (api["pg_restarts"] if api is not None else 0),
        "out_of_order": api["out_of_order"] if api is not None else 0,
        "effects": effects,
        "lost": sum(e["lost"] for e in effects.values()),
        "duplicate_effects": sum(e["duplicate_effects"] for e in effects.values()),
        "stuck": sum(e["stuck"] for e in effects.values()),
        "passed": bool(report["passed"] and (api is None or api["passed"])),
    }


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


def _run_api(url: str, tmp: Path, *, kills: int, prescriptions: int, pg_restarts: int = 0) -> dict[str, Any]:
    sqlite = url.startswith("sqlite")
    config = ApiCampaignConfig(
        database_url=url,
        data_dir=tmp / "data",
        kills=kills,
        kill_interval=(1.5, 3.0) if sqlite else (0.8, 2.0),
        prescriptions=prescriptions,
        batch=5,
        pg_restarts=0 if sqlite else pg_restarts,
        deadline=60 + kills * 5.0 + prescriptions + pg_restarts * 20,
    )
    return asyncio.run(run_api_campaign(config)).as_dict()
