"""The API fault campaign (issue 21): `hgw serve` processes SIGKILLed while trusts and a provider work through them.

Real processes throughout: two API servers on PostgreSQL (one on SQLite, restarted on the same file), killed at
random by the driver and killing themselves at their worst moments (before a COMMIT, right after one, half-way
through an answer); trusts post exports and amendments, a pull provider releases, acknowledges, reports dispatch,
dispense and delivery, every request retried with its Idempotency-Key. Every server runs the webhook relay and the
alert loop, so every kill is theirs too, while the trust's webhook receiver (refusing some requests) records the
status events. Afterwards the database must hold every effect a client was told of exactly once, nothing may be
left in flight, every status event must have reached the trust in order per prescription, and the audit chain
must verify. The last test restarts PostgreSQL three times during the kills (it runs alone: `exclusive`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.bench.faults.api_campaign import EFFECTS, ApiCampaignConfig, ApiCampaignReport, run_api_campaign


def _assert_exactly_once(report: ApiCampaignReport, kills: int) -> None:
    summary = report.as_dict()
    print(json.dumps(summary))  # the figures, with pytest -s
    assert (report.lost, report.duplicate_effects, report.stuck) == (0, 0, 0), report.headline()
    assert report.audit_verified and report.audit_records > 0, summary
    assert report.unexpected_exits == [], summary  # every server that ended was killed on purpose
    assert report.passed
    # The faults really happened, and every kind of effect was exercised through them.
    assert report.api_kills_random >= kills and report.api_kills >= kills, summary
    assert report.server_starts > report.api_kills_random, summary
    assert report.retries > 0, summary
    for kind in EFFECTS:
        assert report.effects[kind]["confirmed"] > 0, (kind, summary)
        assert report.effects[kind]["lost"] == report.effects[kind]["duplicate_effects"] == 0, (kind, summary)
    versions = report.effects["export"]["confirmed"]
    assert versions > 30, summary  # 30 prescriptions and some AMENDs, each version stored once
    webhook = report.effects["webhook"]
    assert report.out_of_order == webhook["out_of_order"] == 0, summary  # per prescription, in the order they happened
    assert webhook["stuck_queued"] == webhook["stuck_leased"] == webhook["dead"] == 0, summary
    assert webhook["unowed"] == 0, summary
    assert webhook["refused_by_receiver"] > 0, summary  # the relay's retries were exercised
    assert report.relay_kills == report.api_kills, summary  # every server killed was running a relay


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_api_servers_on_postgresql_sigkilled_lose_and_double_nothing(
    database_url: str, tmp_path: Path
) -> None:
    config = ApiCampaignConfig(
        database_url=database_url,
        data_dir=tmp_path / "data",
        servers=2,
        kills=8,
        kill_interval=(0.8, 2.0),
        prescriptions=30,
        batch=5,
        deadline=300,  # reached only on a badly overloaded machine: the campaign normally ends in about a minute
        log_dir=tmp_path / "logs",
    )
    report = await run_api_campaign(config)
    _assert_exactly_once(report, 8)
    assert report.servers == 2 and report.database == "postgresql" and report.pg_restarts == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_one_api_server_on_sqlite_killed_and_restarted_on_its_file(database_url: str, tmp_path: Path) -> None:
    config = ApiCampaignConfig(
        database_url=database_url,
        data_dir=tmp_path / "data",
        kills=6,
        kill_interval=(1.5, 3.0),
        prescriptions=30,
        batch=5,
        deadline=300,  # reached only on a badly overloaded machine: the campaign normally ends in about a minute
        log_dir=tmp_path / "logs",
    )
    report = await run_api_campaign(config)
    _assert_exactly_once(report, 6)
    assert report.servers == 1 and report.database == "sqlite"


@pytest.mark.exclusive  # restarts PostgreSQL: runs alone, after the parallel run (scripts/test)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_api_servers_killed_while_postgresql_restarts_three_times(database_url: str, tmp_path: Path) -> None:
    config = ApiCampaignConfig(
        database_url=database_url,
        data_dir=tmp_path / "data",
        servers=2,
        kills=6,
        kill_interval=(0.8, 2.0),
        prescriptions=30,
        batch=5,
        pg_restarts=3,
        deadline=300,
        log_dir=tmp_path / "logs",
    )
    report = await run_api_campaign(config)
    _assert_exactly_once(report, 6)
    assert report.pg_restarts == 3, report.as_dict()
