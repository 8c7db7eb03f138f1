"""The API fault campaign: `hgw serve` processes SIGKILLed while trusts and a provider work through them.

1. The database is migrated; a trust and a pull provider are registered as API clients, the provider as the
   default route.
2. `servers` API server processes start on fixed loopback ports (PostgreSQL: 2, as behind a load balancer;
   SQLite: 1, restarted on the same file). Each is `hgw serve` itself (`gateway.bench.faults.server`); some starts
   carry a doom, so that the server kills itself at the worst moment: before a COMMIT, right after one (the
   effect stored, its answer not sent), or half-way through an answer's body.
3. Concurrently, until the trusts are done and `kills` random kills have happened:
   - the trusts post JAC exports and, for every `amend_every`-th prescription they saw accepted, an AMEND;
   - the provider loops: `Task/$release`, acknowledge each order (`$process-message`), and for the orders it
     chooses, a dispense notification and a delivery Task reporting delivery 1 `delivered`;
   - every client request carries an `Idempotency-Key`, and a connection error, a 5xx or a 409 (the key still
     held) is retried with the same key, on the other server when there is one, as docs/delivery.md tells
     real clients to;
   - at random intervals a random running server gets SIGKILL; every server that dies (killed or killing
     itself) is started again at once on its port. Each server runs the webhook relay and the alert loop, so each
     kill is a relay kill too, while status flows back to the trust's webhook (`trust_webhook`);
   - `pg_restarts` times, at random kills, PostgreSQL is restarted (every session of every server cut).
4. Kills stop; the provider drains what is left (orders whose release answer was lost come back when their
   lease runs out) until nothing is queued or leased (within `drain_timeout`), then the relay until the trust's
   receiver has every event (within the deadline).
5. The servers stop, the audit chain is sequenced and verified, and the database is compared with what the
   clients saw (`check`): per kind of effect, lost, duplicated and stuck; for the webhook, also out of order.

Everything stops by `deadline` seconds after the start; every process is ended by its pid. The settings are in
`api_config.py`, the servers in `api_servers.py`, the clients in `api_clients.py` and what they saw in `api_ledger.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from gateway.audit.sequencer import sequence
from gateway.audit.verify import verify
from gateway.bench.faults import postgres
from gateway.bench.faults.api_checks import check
from gateway.bench.faults.api_clients import FailoverClient, provider_loop, trust_loop
from gateway.bench.faults.api_config import EFFECTS, PROVIDER_ODS, TRUST_ODS, ApiCampaignConfig
from gateway.bench.faults.api_ledger import Ledger
from gateway.bench.faults.api_servers import ServerSet
from gateway.bench.faults.trust_webhook import (
    ALERT_PATH,
    TRUST_PATH,
    Subscription,
    WebhookSink,
    caught_up,
    check_webhooks,
    subscribe,
)
from gateway.context import Gateway
from gateway.operations import admin
from gateway.security.client_auth import ClientKey
from gateway.settings import Settings
from gateway.simulate.directory import configure_sample_directory
from gateway.simulate.parties import register_party
from gateway.store import delivery_ledger
from gateway.store.migrate import upgrade
from gateway.wiring import build_gateway

__all__ = ["EFFECTS", "ApiCampaignConfig", "ApiCampaignReport", "check", "run_api_campaign"]



@dataclass(frozen=True)
class ApiCampaignReport:
    """The figures: kills of each kind, and per kind of effect what was confirmed, lost, duplicated, stuck."""

    database: str
    servers: int
    duration_seconds: float
    api_kills: int
    api_kills_random: int
    api_kills_self: dict[str, int]
    relay_kills: int
    """Kills of a server while its webhook relay and alert loop ran: every one (each server runs both)."""
    pg_restarts: int
    unexpected_exits: list[int]
    server_starts: int
    requests: int
    retries: int
    retried_after: dict[str, int]
    """Why requests were sent again (see `Ledger.retried_after`)."""
    conflicts: int
    replayed: int
    refused: dict[str, int]
    effects: dict[str, dict[str, int]]
    lost: int
    duplicate_effects: int
    stuck: int
    out_of_order: int
    """Prescriptions whose status events reached the trust's webhook in another order than they happened."""
    out_of_order_examples: list[str]
    audit_verified: bool
    audit_records: int
    phases: dict[str, float]
    """Seconds from the start to the end of each phase that ended (`kills`, `drain`, `webhooks`): on a failure,
    which one ran out of time."""

    @property
    def passed(self) -> bool:
        return (
            self.lost == 0 and self.duplicate_effects == 0 and self.stuck == 0 and self.out_of_order == 0
            and self.audit_verified and not self.unexpected_exits
        )

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "passed": self.passed}

    def headline(self) -> dict[str, Any]:
        """What went wrong, short enough to survive a truncated log: the phases' times, then per kind of effect
        only its non-zero lost, duplicated and stuck counts."""
        wrong = {
            kind: {key: n for key, n in figures.items() if n and key.split("_")[0] in ("lost", "duplicate", "stuck")}
            for kind, figures in self.effects.items()
        }
        return {
            "duration_seconds": self.duration_seconds, "phases": self.phases, "kills": self.api_kills,
            "retried_after": self.retried_after, "wrong": {kind: found for kind, found in wrong.items() if found},
        }  # fmt: skip


async def run_api_campaign(cfg: ApiCampaignConfig) -> ApiCampaignReport:
    """Run the campaign described by `cfg` and return its report (also when it did not pass)."""
    started = time.monotonic()
    give_up = started + cfg.deadline
    await asyncio.to_thread(upgrade, cfg.database_url)
    settings = Settings(
        data_dir=cfg.data_dir, database_url=cfg.database_url, mode="test", push_workers=0,
        outbound_allow_loopback=True,  # the trust's webhook receiver listens on loopback
    )  # fmt: skip
    gw = build_gateway(settings)  # makes the keys the servers will read
    rng = random.Random(cfg.seed)  # noqa: S311 - fault timing, not a secret
    ledger = Ledger()
    sink = WebhookSink(random.Random(cfg.seed + 1), cfg.webhook_refusals)  # noqa: S311 - not a secret
    servers = ServerSet(cfg, rng)
    run = _Run(gw, cfg, servers, ledger, sink, give_up)
    try:
        async with sink.serving() as hooks:
            await admin.add_provider(gw, ods=PROVIDER_ODS, name="API Fault Campaign Homecare", mode="pull")
            await admin.add_route(gw, provider_ods=PROVIDER_ODS)
            await configure_sample_directory(gw)
            trust_key = await register_party(gw, "trust", TRUST_ODS)
            provider_key = await register_party(gw, "provider", PROVIDER_ODS)
            run.subscription = await subscribe(gw, TRUST_ODS, hooks + TRUST_PATH)
            servers.env |= _ALERTS_SOON | {"HGW_ALERT_WEBHOOK_URL": hooks + ALERT_PATH}
            servers.start_all()
            async with _clients(servers.urls, trust_key, provider_key, ledger, cfg, give_up) as (trusts, providers):
                await _phases(run, trusts, providers)
            servers.stop()
        return await _report(run, time.monotonic() - started)
    finally:
        servers.stop()
        if run.dsn is not None and cfg.pg_restarts:
            await asyncio.to_thread(postgres.ensure_up, run.dsn)
        await gw.close()


# Alert rules that fire within the run (an order waiting or unacknowledged for 3 s), so the alert loop is busy
# sending when its server is killed.
_ALERTS_SOON = {"HGW_ALERT_QUEUE_AGE_MINUTES": "0.05", "HGW_ALERT_ACK_LAG_MINUTES": "0.05"}


@dataclass
class _Run:
    gw: Gateway
    cfg: ApiCampaignConfig
    servers: ServerSet
    ledger: Ledger
    sink: WebhookSink
    give_up: float
    subscription: Subscription | None = None
    webhooks_upto: int | None = None
    """The trust's last event when the relay had delivered every one (the webhook check stops there)."""
    pg_restarts: int = 0
    phases: dict[str, float] = field(default_factory=dict)

    def phase_ended(self, name: str) -> None:
        self.phases[name] = round(time.monotonic() - (self.give_up - self.cfg.deadline), 1)

    @property
    def dsn(self) -> str | None:
        return None if self.cfg.sqlite else postgres.libpq_dsn(self.cfg.database_url)


@contextlib.asynccontextmanager
async def _clients(
    urls: list[str], trust_key: ClientKey, provider_key: ClientKey, ledger: Ledger, cfg: ApiCampaignConfig,
    give_up: float,
) -> AsyncIterator[tuple[list[FailoverClient], list[FailoverClient]]]:
    trusts = [FailoverClient(urls, trust_key, ledger, cfg, give_up) for _ in range(cfg.trusts)]
    providers = [FailoverClient(urls, provider_key, ledger, cfg, give_up) for _ in range(cfg.providers)]
    for n, client in enumerate(trusts + providers):
        client.turn = n  # spread the clients over the servers
    try:
        yield trusts, providers
    finally:
        for client in trusts + providers:
            await client.aclose()


async def _phases(run: _Run, trusts: list[FailoverClient], providers: list[FailoverClient]) -> None:
    cfg, servers, ledger, give_up = run.cfg, run.servers, run.ledger, run.give_up
    stop_watch, restart, stop_providers = asyncio.Event(), asyncio.Event(), asyncio.Event()
    restart.set()
    batches = -(-cfg.prescriptions // cfg.batch)
    restarts_at = set(servers.rng.sample(range(1, cfg.kills + 1), min(cfg.pg_restarts, cfg.kills)))
    watcher = asyncio.create_task(servers.watch(stop_watch, restart=restart))
    provider_tasks = [asyncio.create_task(provider_loop(p, cfg, ledger, stop_providers)) for p in providers]
    try:
        trust_tasks = [
            asyncio.create_task(trust_loop(n, t, cfg, ledger, list(range(n, batches, len(trusts)))))
            for n, t in enumerate(trusts)
        ]
        lo, hi = cfg.kill_interval
        while (servers.kills_random < cfg.kills or not all(t.done() for t in trust_tasks)) and (
            time.monotonic() < give_up
        ):
            await asyncio.sleep(servers.rng.uniform(lo, hi))
            servers.kill_random(c.waiting_since for c in trusts + providers if c.waiting_since is not None)
            if servers.kills_random in restarts_at and run.dsn is not None:
                restarts_at.discard(servers.kills_random)
                await asyncio.to_thread(postgres.restart, run.dsn)
                run.pg_restarts += 1
        await asyncio.gather(*trust_tasks)
        run.phase_ended("kills")
        # The drain: no more kills; servers that kill themselves are still started again, without a doom.
        servers.doomless = True
        await _drain(run)
        run.phase_ended("drain")
        # The relay's drain runs to the deadline: on a loaded machine one relay (SQLite: one server) needs a while.
        while time.monotonic() < give_up and run.webhooks_upto is None:
            run.webhooks_upto = await _webhooks_caught_up(run)
            await asyncio.sleep(0.2)
        if run.webhooks_upto is not None:
            run.phase_ended("webhooks")
    finally:
        stop_providers.set()
        await asyncio.gather(*provider_tasks, return_exceptions=True)
        stop_watch.set()
        await watcher


async def _drain(run: _Run) -> None:
    """Until nothing is queued or leased for the provider, or nothing more got done for `drain_timeout` seconds (on a
    loaded machine a batch of orders takes the provider a while: the timeout is on progress, not on the whole)."""
    left, progress_at = await _unfinished(run.gw), time.monotonic()
    while left > 0 and time.monotonic() < min(run.give_up, progress_at + run.cfg.drain_timeout):
        await asyncio.sleep(0.2)
        now_left = await _unfinished(run.gw)
        if now_left < left:
            progress_at = time.monotonic()
        left = now_left


async def _webhooks_caught_up(run: _Run) -> int | None:
    assert run.subscription is not None  # noqa: S101 - made before the servers start
    try:
        return await caught_up(run.gw, run.sink, TRUST_ODS, run.subscription)
    except Exception:  # noqa: BLE001 - the store may be busy with a server's restart: look again
        return None


async def _unfinished(gw: Gateway) -> int:
    try:
        async with gw.sessions() as session:
            return await delivery_ledger.unfinished_count(session, PROVIDER_ODS)
    except Exception:  # noqa: BLE001 - the store may be busy with a server's restart: look again
        return 1


async def _report(run: _Run, duration: float) -> ApiCampaignReport:
    gw, cfg, servers, ledger = run.gw, run.cfg, run.servers, run.ledger
    assert run.subscription is not None  # noqa: S101 - made before the servers start
    effects = await check(gw, ledger)
    effects["webhook"] = await check_webhooks(gw, run.sink, TRUST_ODS, run.subscription, upto=run.webhooks_upto)
    await sequence(gw, sign=True, wait=True)
    audit = await verify(gw)
    self_kills = dict(servers.self_kills)
    api_kills = servers.kills_random + sum(self_kills.values())
    return ApiCampaignReport(
        database="sqlite" if cfg.sqlite else "postgresql",
        servers=len(servers.servers),
        duration_seconds=round(duration, 1),
        api_kills=api_kills,
        api_kills_random=servers.kills_random,
        api_kills_self=self_kills,
        relay_kills=api_kills,
        pg_restarts=run.pg_restarts,
        unexpected_exits=servers.unexpected_exits,
        server_starts=servers.starts,
        requests=ledger.requests,
        retries=ledger.retries,
        retried_after=dict(ledger.retried_after),
        conflicts=ledger.conflicts,
        replayed=ledger.replayed,
        refused=dict(ledger.refused),
        effects=effects,
        lost=sum(e["lost"] for e in effects.values()),
        duplicate_effects=sum(e["duplicate_effects"] for e in effects.values()),
        stuck=sum(e["stuck"] for e in effects.values()),
        out_of_order=effects["webhook"]["out_of_order"],
        out_of_order_examples=run.sink.out_of_order_examples,
        audit_verified=audit.ok,
        audit_records=audit.records,
        phases=dict(run.phases),
    )
