"""The key flows through PgBouncer in transaction mode (docs/scale-out.md), on PostgreSQL only.

Each test's database is reached through one PgBouncer (Debian's binary, started here on a loopback port) that
keeps a few server connections per database, fewer than the gateway's pool: consecutive transactions of one client
connection land on different server connections, as they do in production. With `HGW_DB_PGBOUNCER=true` the
gateway prepares nothing on the server; the first test shows what happens without it.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from conformance.parties import provider_messages as msg
from gateway.audit.sequencer import sequence
from gateway.audit.verify import verify
from gateway.bench.pgbouncer import PgBouncer, pgbouncer, pgbouncer_binary
from gateway.bench.scale_out import set_up_figures
from gateway.context import Gateway
from gateway.delivery import acknowledgements, release
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.intake.ingest import ingest_export
from gateway.settings import Settings
from gateway.store import outbox_queue
from gateway.store.db import create_engine
from gateway.store.migrate import applied_revision, current_head, upgrade
from gateway.store.scratch import scratch_database
from gateway.wiring import build_gateway
from tests.conftest import PG_ADMIN_DSN, ClonePool, _pg_url
from tests.integration.helpers import FHIR, export, passed_prescriptions, post_export
from tests.integration.test_push import environment, eventually

SERVER_CONNECTIONS = 3  # per database, under the gateway's pool of 10: transactions move between them
TRUST = Principal("trust", Role.TRUST, "RBA", frozenset(ROLE_SCOPES[Role.TRUST]))
PROVIDER = Principal("provider", Role.PROVIDER, "VNFKT", frozenset(ROLE_SCOPES[Role.PROVIDER]))
RELEASE = "/FHIR/R4/Task/$release"


def _require_binary() -> None:
    if pgbouncer_binary() is None:
        if os.environ.get("CI") == "true":  # scripts/test installs it as root
            pytest.fail("pgbouncer is required in CI and missing (Debian: apt-get install pgbouncer)")
        pytest.skip("pgbouncer is not installed (Debian: apt-get install pgbouncer; scripts/test installs it)")


@pytest.fixture(scope="module")
def bouncer() -> Iterator[PgBouncer]:
    _require_binary()
    with pgbouncer(PG_ADMIN_DSN, pool_size=SERVER_CONNECTIONS) as running:
        yield running


@pytest.fixture
def database_url(pg_template: ClonePool, bouncer: PgBouncer) -> Iterator[str]:
    """A freshly migrated PostgreSQL database, reached through PgBouncer."""
    name = pg_template.take()
    yield bouncer.url_for(_pg_url(name))
    pg_template.give_back(name)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"db_pgbouncer": True})


@pytest.mark.parametrize("pgbouncer_setting", [False, True])
async def test_server_side_prepared_statements_collide_unless_the_setting_is_on(
    pgbouncer_setting: bool, database_url: str
) -> None:
    # One server connection: two client connections take turns on it, each naming its first prepared statement
    # `_pg3_0`.
    with pgbouncer(PG_ADMIN_DSN, pool_size=1) as single:
        engine = create_engine(single.url_for(database_url), pgbouncer=pgbouncer_setting)
        try:
            async with engine.connect() as first, engine.connect() as second:

                async def run() -> None:
                    for conn in (first, second):
                        for n in range(8):  # past psycopg's threshold of 5
                            assert (await conn.execute(text("SELECT 1 + :n"), {"n": n})).scalar() == 1 + n
                            await conn.commit()

                if pgbouncer_setting:
                    await run()
                else:
                    with pytest.raises(DBAPIError, match="_pg3_"):
                        await run()
        finally:
            await engine.dispose()


async def test_migrations_run_through_pgbouncer(bouncer: PgBouncer) -> None:
    with scratch_database(_pg_url("test"), "hgw_bouncer") as url:
        through = bouncer.url_for(url)
        await asyncio.to_thread(upgrade, through)
        await asyncio.to_thread(upgrade, through)  # again: nothing to do, on server connections used before
        engine = create_engine(through, pgbouncer=True)
        try:
            assert await applied_revision(engine) == current_head()
        finally:
            await engine.dispose()


async def test_ingest_release_and_acknowledge_over_http(
    gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    r = await post_export(trust, export(12, seed=71))
    assert r.status_code == 200, r.text
    sids = {p["short_form_id"] for p in r.json()["prescriptions"]}
    orders = passed_prescriptions(await provider.post(RELEASE, json=msg.release_request("VNFKT"), headers=FHIR))
    assert {msg.order_facts(o)["short_form_id"] for o in orders} == sids
    for order in orders:
        ack = msg.acknowledgement("VNFKT", order["entry"][0]["resource"]["id"], "https://provider.example/fhir")
        answer = await provider.post("/FHIR/R4/$process-message", json=ack, headers=FHIR)
        assert answer.status_code == 200, answer.text
    async with gw.sessions() as session:
        rows = await outbox_queue.list_outbox(session, provider_ods="VNFKT")
    assert Counter(row.state for row in rows) == Counter({"acknowledged": 12})


async def test_two_nodes_claim_each_order_once(gw: Gateway, settings: Settings) -> None:
    other = build_gateway(settings)  # a second node on the same PostgreSQL, through the same PgBouncer
    try:
        await ingest_export(gw, TRUST, export(40, seed=72), "text/csv")
        claimed = await asyncio.gather(
            *(release.release_orders(node, PROVIDER, max_count=5) for node in (gw, other) for _ in range(6))
        )
        ids = [order.message_id for result in claimed for order in result.orders]
        assert len(ids) == len(set(ids)) == 40  # FOR UPDATE SKIP LOCKED: each order to one claim
        outcomes = await acknowledgements.apply_acknowledgements(
            other, PROVIDER, [acknowledgements.Ack(m, "ok") for m in ids]
        )
        assert all(o.applied for o in outcomes)
    finally:
        await other.close()


async def test_push_by_the_apps_worker(settings: Settings) -> None:
    async with environment(settings, workers=1, fake_time=False) as env:
        ids = await env.submit(5, seed=73)

        async def all_acknowledged() -> bool:
            return {r.state for r in await env.rows()} == {"acknowledged"}

        await eventually(all_acknowledged, timeout=30)
        assert env.provider.effects == Counter({i: 1 for i in ids}) and env.provider.duplicates == 0


async def test_sequencers_of_two_nodes_chain_every_entry_once(gw: Gateway, settings: Settings) -> None:
    other = build_gateway(settings)
    try:
        for seed in range(74, 80):
            await ingest_export(gw, TRUST, export(3, seed=seed, rx_prefix=f"A{seed}"), "text/csv")
        # The turn is a transaction-level advisory lock: it goes with the transaction, whichever server
        # connection PgBouncer gives it.
        results = await asyncio.gather(*(sequence(node, sign=True) for node in (gw, other, gw, other)))
        rest = await sequence(gw, sign=True, wait=True)
        chained = sum(r.sequenced for r in results) + rest.sequenced
        verdict = await verify(gw)
        assert verdict.ok, verdict.reason
        assert verdict.records == chained > 0
        assert verdict.backlog is not None and verdict.backlog.unsequenced == 0
    finally:
        await other.close()


async def test_long_poll_wakes_on_this_nodes_order_and_finds_another_nodes(
    gw: Gateway, settings: Settings, trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    request = msg.release_request("VNFKT")
    request["parameter"].append({"name": "wait", "valueInteger": 20})

    async def waiting() -> None:
        async with asyncio.timeout(10):
            while gw.outbox_signal.waiting("VNFKT") == 0:
                await asyncio.sleep(0.01)

    # This node's own order rings the in-process bell.
    poll = asyncio.create_task(provider.post(RELEASE, json=request, headers=FHIR))
    await waiting()
    sid = (await post_export(trust, export(1, seed=81))).json()["prescriptions"][0]["short_form_id"]
    assert [msg.order_facts(o)["short_form_id"] for o in passed_prescriptions(await poll)] == [sid]
    # Another node's order is found by the store poll (no LISTEN: it would not survive transaction pooling).
    other = build_gateway(settings)
    try:
        poll = asyncio.create_task(provider.post(RELEASE, json=request, headers=FHIR))
        await waiting()
        report = await ingest_export(other, TRUST, export(1, seed=82), "text/csv")
        orders = passed_prescriptions(await poll)  # empty, had nothing looked before the 20 s were over
        assert [msg.order_facts(o)["short_form_id"] for o in orders] == [report.prescriptions[0].short_form_id]
    finally:
        await other.close()


def test_the_scale_out_bench_runs_two_servers_and_two_workers_through_pgbouncer(bouncer: PgBouncer) -> None:
    figures = set_up_figures(_pg_url("test"), 2, bouncer, orders=4, push_orders=6)
    single, push = figures["single_ack"], figures["push"]
    assert single["server_processes"] == 2 and single["orders"] == 4
    assert single["acknowledgements_per_second"] > 0  # every order acknowledged (a refused one raises)
    assert push["worker_processes"] == 2 and push["orders"] == 6 and push["duplicate_deliveries"] == 0
