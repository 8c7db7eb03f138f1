"""The delivery fault campaign (issue 7): SIGKILLed worker processes, a failing provider, PostgreSQL restarted.

Real processes throughout: the provider is a loopback HTTP server in its own process that records every message
id it receives and applies each order once; push workers are forked processes running the real relay; the
database is PostgreSQL (restarted mid-run with pg_ctlcluster) or SQLite. Nothing accepted may be lost, applied
twice, or left in flight.

HGW_FAULTS_PG_RESTARTS=0 runs the PostgreSQL campaign without restarting the server (for development on a
machine others share); the default restarts it once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gateway.bench.faults.campaign import CampaignConfig, run_campaign
from gateway.bench.faults.report import CampaignReport
from gateway.bench.faults.schedule import FAULTS

PG_RESTARTS = int(os.environ.get("HGW_FAULTS_PG_RESTARTS", "1"))


def _assert_nothing_lost(report: CampaignReport, prescriptions: int, faults: set[str]) -> None:
    summary = report.as_dict()
    print(json.dumps(summary))  # the figures, with pytest -s
    assert report.messages_accepted == prescriptions, summary
    assert report.lost == 0, summary
    assert report.duplicate_effects == 0, summary
    assert report.stuck_in_flight == 0, summary
    assert report.delivered == prescriptions, summary
    assert report.dead == 0 and report.unexpected_effects == 0, summary
    assert report.unexpected_exits == 0, summary  # every worker that ended was killed on purpose
    assert report.passed
    # The faults really happened: every kind was served, and resends were absorbed by the receiver.
    assert set(report.faults_injected) == faults, summary
    assert report.duplicate_deliveries > 0, summary
    assert report.interrupted_attempts > 0, summary  # kills landed between a claim and its commit


@pytest.mark.exclusive  # restarts PostgreSQL: runs alone, after the parallel run (scripts/test)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgresql_survives_200_sigkills_and_a_restart(database_url: str, tmp_path: Path) -> None:
    config = CampaignConfig(
        database_url=database_url,
        data_dir=tmp_path / "data",
        workers=4,
        kills=200,
        kill_interval=(0.03, 0.15),
        prescriptions=100,
        batch=10,
        pg_restarts=PG_RESTARTS,
        # Three SIGSTOPs: a batched worker is idle (nothing in hand to be fenced) for much of a round's time, so one
        # stop may land between rounds; the frozen-answer faults give the fence its other chances.
        stalls=3,
        drain_timeout=45,
        log_file=tmp_path / "workers.log",
    )
    report = await run_campaign(config)
    _assert_nothing_lost(report, 100, set(FAULTS))
    assert report.kills_random >= 200 and report.kills >= 200, report.as_dict()
    assert report.kills_after_answer_before_commit >= 1, report.as_dict()
    assert report.fenced_attempts >= 1, report.as_dict()  # frozen workers came back to orders they had lost
    assert report.pg_restarts == PG_RESTARTS, report.as_dict()
    assert report.stalls == 3 and report.worker_processes == 4


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_one_worker_process_at_a_time_survives_sigkills(database_url: str, tmp_path: Path) -> None:
    config = CampaignConfig(
        database_url=database_url,
        data_dir=tmp_path / "data",
        kills=25,
        kill_interval=(0.1, 0.3),
        prescriptions=30,
        batch=10,
        pg_restarts=0,
        stalls=0,
        drain_timeout=45,
        log_file=tmp_path / "workers.log",
    )
    report = await run_campaign(config)
    _assert_nothing_lost(report, 30, set(FAULTS) - {"stall-after-answer"})
    assert report.worker_processes == 1 and report.kills_random >= 25, report.as_dict()
