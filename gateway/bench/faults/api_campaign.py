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
     itself) is started again at once on its port.
4. Kills stop; the provider drains what is left (orders whose release answer was lost come back when their
   lease runs out) until nothing is queued or leased, within `drain_timeout`.
5. The servers stop, the audit chain is sequenced and verified, and the database is compared with what the
   clients saw (`check`): per kind of effect, lost, duplicated and stuck.

Everything stops by `deadline` seconds after the start; every process is ended by its pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from adapters.jac.writer import render_export
from gateway.audit.sequencer import sequence
from gateway.audit.verify import verify
from gateway.bench.faults.server import DOOMS
from gateway.context import Gateway
from gateway.intake.outcomes import ACCEPTED
from gateway.operations import admin
from gateway.security.client_auth import ClientKey
from gateway.settings import Settings
from gateway.simulate import provider_messages as msg
from gateway.simulate.directory import configure_sample_directory
from gateway.simulate.parties import party_client, register_party
from gateway.simulate.samples import export_rows
from gateway.store import delivery_ledger
from gateway.store.db import is_sqlite
from gateway.store.migrate import upgrade
from gateway.wiring import build_gateway

PROVIDER_ODS = "VNAPI"
TRUST_ODS = "RBA"
SOURCE = "https://fault-campaign.example/provider"
FHIR = {"Content-Type": "application/fhir+json"}
EFFECTS = ("export", "release", "acknowledgement", "dispatch", "dispense", "delivery")
START_SECONDS = 30.0


@dataclass(frozen=True)
class ApiCampaignConfig:
    database_url: str
    data_dir: Path
    servers: int = 2
    """API server processes at a time (always 1 on SQLite)."""
    kills: int = 15
    """Random SIGKILLs by the driver, at least (the dooms add their own)."""
    kill_interval: tuple[float, float] = (1.0, 2.5)
    min_uptime: float = 1.0
    """A server is killed at random only once it has served this long (and, with two, while the other serves)."""
    doom_share: float = 0.5
    """Share of server starts that carry a doom (a self-kill at the worst moment)."""
    prescriptions: int = 30
    batch: int = 5
    trusts: int = 2
    providers: int = 2
    """Provider loops (one provider, several clients releasing and acknowledging concurrently)."""
    amend_every: int = 4
    seed: int = 11
    claim_seconds: int = 2
    """HGW_IDEMPOTENCY_CLAIM_SECONDS of the servers: how soon a dead request's key is taken over."""
    lease_seconds: int = 4
    """HGW_LEASE_SECONDS: how soon an order whose release answer was lost comes back."""
    request_timeout: float = 15.0
    drain_timeout: float = 40.0
    deadline: float = 150.0
    """Every client gives up and the campaign reports by then."""
    log_dir: Path | None = None

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.database_url)


@dataclass
class Ledger:
    """What the clients saw: each effect they were told happened, and what never got an answer."""

    exports: dict[tuple[str, int], str] = field(default_factory=dict)
    """(RxNumber, version) the trust saw accepted → its short-form id."""
    received: Counter[str] = field(default_factory=Counter)
    """Order message id → how many release answers handed it over."""
    released_after_ack: int = 0
    replayed_after_ack: int = 0
    acknowledged: set[str] = field(default_factory=set)
    dispatched: set[str] = field(default_factory=set)
    dispensed: set[str] = field(default_factory=set)
    delivered: set[str] = field(default_factory=set)
    claimed: set[str] = field(default_factory=set)
    """Short-form ids a provider loop took on to dispense and deliver (so only one does)."""
    unanswered: Counter[str] = field(default_factory=Counter)
    """Requests given up at the deadline, per kind of effect."""
    refused: Counter[str] = field(default_factory=Counter)
    """Final 4xx answers, per kind of effect and status."""
    requests: int = 0
    retries: int = 0
    conflicts: int = 0
    replayed: int = 0


# --- the servers -----------------------------------------------------------------------------------------------


@dataclass
class _Server:
    port: int
    process: subprocess.Popen[bytes] | None = None
    doom: str | None = None
    ready: bool = False
    ready_at: float = 0.0


@dataclass
class ServerSet:
    """API server processes on fixed loopback ports; any that ends is counted and started again."""

    cfg: ApiCampaignConfig
    rng: random.Random
    servers: list[_Server] = field(default_factory=list)
    killed_by_us: set[int] = field(default_factory=set)
    kills_random: int = 0
    self_kills: Counter[str] = field(default_factory=Counter)
    unexpected_exits: list[int] = field(default_factory=list)
    starts: int = 0
    doomless: bool = False
    """Set for the drain: servers start without a doom."""
    kill_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.kill_dir = self.cfg.data_dir / "server-kills"
        self.kill_dir.mkdir(parents=True, exist_ok=True)
        count = 1 if self.cfg.sqlite else self.cfg.servers
        self.servers = [_Server(_free_port()) for _ in range(count)]

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{s.port}" for s in self.servers]

    def start(self, server: _Server, *, doom: bool = True) -> None:
        server.doom = None
        if doom and not self.doomless and self.rng.random() < self.cfg.doom_share:
            server.doom = f"{self.rng.choice(DOOMS)}:{self.rng.randint(1, 12)}"
        env = {
            **os.environ,
            "HGW_DATABASE_URL": self.cfg.database_url,
            "HGW_DATA_DIR": str(self.cfg.data_dir),
            "HGW_MODE": "test",
            "HGW_HOST": "127.0.0.1",
            "HGW_PORT": str(server.port),
            "HGW_BASE_URL": f"http://127.0.0.1:{server.port}",
            "HGW_PUSH_WORKERS": "0",
            "HGW_LOG_LEVEL": "WARNING",
            "HGW_LEASE_SECONDS": str(self.cfg.lease_seconds),
            "HGW_IDEMPOTENCY_CLAIM_SECONDS": str(self.cfg.claim_seconds),
            "HGW_FAULTS_KILL_DIR": str(self.kill_dir),
            "HGW_FAULTS_DOOM": server.doom or "",
        }
        log = subprocess.DEVNULL
        if self.cfg.log_dir is not None:
            self.cfg.log_dir.mkdir(parents=True, exist_ok=True)
            log = (self.cfg.log_dir / f"server-{server.port}.log").open("ab")  # type: ignore[assignment]
        command = [sys.executable, "-m", "gateway.bench.faults.server"]
        server.process = subprocess.Popen(  # noqa: S603 - our module
            command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        if log is not subprocess.DEVNULL:
            log.close()  # type: ignore[attr-defined]
        server.ready = False
        self.starts += 1

    def start_all(self) -> None:
        for server in self.servers:
            self.start(server, doom=False)

    async def watch(self, stop: asyncio.Event, *, restart: asyncio.Event) -> None:
        """Count how each ended server died and start it again (while `restart` is set); mark the ready."""
        async with httpx.AsyncClient(timeout=1) as probe:
            while not stop.is_set():
                for server in self.servers:
                    process = server.process
                    if process is None:
                        continue
                    code = process.poll()
                    if code is not None:
                        self._ended(process.pid, code)
                        server.process = None
                        if restart.is_set():
                            self.start(server)
                    elif not server.ready:
                        with contextlib.suppress(httpx.HTTPError):
                            server.ready = (await probe.get(f"http://127.0.0.1:{server.port}/healthz")).is_success
                            server.ready_at = time.monotonic()
                await asyncio.sleep(0.05)

    def _ended(self, pid: int, code: int) -> None:
        if pid in self.killed_by_us:
            self.killed_by_us.discard(pid)
            return
        marker = self.kill_dir / str(pid)
        if code == -signal.SIGKILL and marker.exists():
            self.self_kills[marker.read_text()] += 1
            marker.unlink()
        else:
            self.unexpected_exits.append(code)

    def kill_random(self) -> bool:
        """SIGKILL a random server that has been serving for `min_uptime`, while another one serves (when there
        are two); False when none may be killed now. On a loaded machine a server takes seconds to start: without
        these rules the kills would outpace the restarts and nothing would get through."""
        up = [s for s in self.servers if s.process is not None and s.ready and s.process.poll() is None]
        now = time.monotonic()
        eligible = [s for s in up if now - s.ready_at >= self.cfg.min_uptime]
        if not eligible or (len(self.servers) > 1 and len(up) < 2):
            return False
        up = eligible
        victim = self.rng.choice(up)
        pid = victim.process.pid if victim.process is not None else 0
        self.killed_by_us.add(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        victim.ready = False
        self.kills_random += 1
        return True

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM each server, wait, SIGKILL what is left; their exits are not counted."""
        for server in self.servers:
            if server.process is not None and server.process.poll() is None:
                server.process.terminate()
        deadline = time.monotonic() + grace
        for server in self.servers:
            if server.process is None:
                continue
            try:
                server.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(grace)
            server.process = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- the clients -----------------------------------------------------------------------------------------------


class FailoverClient:
    """One party's clients, one per server; `send` retries a request with its key until it gets a final answer."""

    def __init__(self, urls: list[str], key: ClientKey, ledger: Ledger, cfg: ApiCampaignConfig, give_up: float):
        self.clients = [party_client(url, key, timeout=cfg.request_timeout) for url in urls]
        self.ledger = ledger
        self.give_up = give_up
        self.turn = 0

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    async def send(self, kind: str, path: str, *, body: bytes, content_type: str) -> httpx.Response | None:
        """The final answer to a POST (2xx, or 4xx but not a 409 for the key still held), retried under one
        Idempotency-Key; None when the deadline came first."""
        headers = {"Content-Type": content_type, "Idempotency-Key": str(uuid.uuid4())}
        pause = 0.05
        while time.monotonic() < self.give_up:
            client = self.clients[self.turn % len(self.clients)]
            self.ledger.requests += 1
            try:
                response = await client.post(path, content=body, headers=headers)
            except httpx.TransportError:
                response = None
            busy = response is not None and response.status_code == 409 and "IDEMPOTENCY_CONFLICT" in response.text
            if response is not None and response.status_code < 500 and not busy:
                if response.headers.get("idempotent-replayed") == "true":
                    self.ledger.replayed += 1
                if response.status_code >= 400:
                    self.ledger.refused[f"{kind} {response.status_code}"] += 1
                return response
            self.ledger.retries += 1
            if busy and response is not None:
                self.ledger.conflicts += 1
                await asyncio.sleep(float(response.headers.get("retry-after", "1")) / 2)
                continue
            self.turn += 1  # that server is down or failing: the other one, after a pause
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)
        self.ledger.unanswered[kind] += 1
        return None

    async def send_json(self, kind: str, path: str, resource: dict[str, Any]) -> httpx.Response | None:
        return await self.send(kind, path, body=json.dumps(resource).encode(), content_type=FHIR["Content-Type"])


def _picked(short_form_id: str, every: int) -> bool:
    """The prescriptions the trust amends (and the provider therefore leaves undispensed): a stable share."""
    return int(hashlib.sha256(short_form_id.encode()).hexdigest(), 16) % every == 0


async def _trust(n: int, client: FailoverClient, cfg: ApiCampaignConfig, ledger: Ledger, numbers: list[int]) -> None:
    """Post this trust's exports, then AMENDs (version 2) of the picked prescriptions of the export before."""
    pending_amends: list[dict[str, str]] = []
    for number in numbers:
        size = min(cfg.batch, cfg.prescriptions - number * cfg.batch)
        rows = export_rows(size, seed=cfg.seed * 1000 + number, trust_ods=TRUST_ODS, rx_prefix=f"T{n}B{number:03d}")
        picked = await _post_export(client, ledger, rows, cfg)
        if pending_amends:
            await _post_export(client, ledger, pending_amends, cfg)
        pending_amends = [
            row | {"Action": "AMEND", "RxVersion": "2", "Indication": "Psoriatic arthritis"}
            for row in rows
            if row["RxNumber"] in picked
        ]
    if pending_amends:
        await _post_export(client, ledger, pending_amends, cfg)


async def _post_export(
    client: FailoverClient, ledger: Ledger, rows: list[dict[str, str]], cfg: ApiCampaignConfig
) -> set[str]:
    """Post one export; the RxNumbers of its version-1 prescriptions to amend next."""
    response = await client.send("export", "/api/v1/exports", body=render_export(rows), content_type="text/csv")
    if response is None or response.status_code not in (200, 422):
        return set()
    picked = set()
    for outcome in response.json()["prescriptions"]:
        if outcome["outcome"] not in ACCEPTED or not outcome.get("short_form_id"):
            continue
        version = int(outcome["rx_version"])
        if outcome["outcome"] in ("accepted", "duplicate", "held"):
            ledger.exports[(outcome["rx_number"], version)] = outcome["short_form_id"]
        if version == 1 and _picked(outcome["short_form_id"], cfg.amend_every):
            picked.add(outcome["rx_number"])
    return picked


async def _provider(client: FailoverClient, cfg: ApiCampaignConfig, ledger: Ledger, stop: asyncio.Event) -> None:
    """Release, acknowledge, and for the orders not picked for amendment dispense and report delivery 1."""
    while not stop.is_set():
        request = msg.release_request(PROVIDER_ODS, max_count=5)
        response = await client.send_json("release", "/FHIR/R4/Task/$release", request)
        if response is None:
            return
        orders = msg.passed_orders(response.json()) if response.status_code == 200 else []
        replayed = response.headers.get("idempotent-replayed") == "true"
        received = [msg.order_facts(order) for order in orders]
        for facts in received:  # judged as the answer arrives, before this loop acknowledges any of them
            _received(ledger, facts["message_id"], replayed=replayed)
        for facts in received:
            await _handle(client, cfg, ledger, facts)
        if not orders:
            await asyncio.sleep(0.2)


def _received(ledger: Ledger, message_id: str, *, replayed: bool) -> None:
    if message_id in ledger.acknowledged:
        # Handed over again after it was acknowledged: by a fresh release, a duplicate; by the replay of a first
        # answer (byte for byte, as the idempotency contract says), an order whose lease ran out meanwhile.
        if replayed:
            ledger.replayed_after_ack += 1
        else:
            ledger.released_after_ack += 1
    ledger.received[message_id] += 1


async def _handle(client: FailoverClient, cfg: ApiCampaignConfig, ledger: Ledger, facts: dict[str, Any]) -> None:
    message_id, short_form_id = facts["message_id"], facts["short_form_id"]
    ack = msg.acknowledgement(PROVIDER_ODS, message_id, SOURCE)
    response = await client.send_json("acknowledgement", "/FHIR/R4/$process-message", ack)
    if response is None or response.status_code != 200:
        return
    ledger.acknowledged.add(message_id)
    if facts["event"] != "prescription-order" or _picked(short_form_id, cfg.amend_every):
        return
    if short_form_id in ledger.claimed:
        return
    ledger.claimed.add(short_form_id)
    now = datetime.now(UTC)
    dispatched = msg.delivery_task(PROVIDER_ODS, facts, 1, "dispatched")
    response = await client.send_json("dispatch", "/FHIR/R4/Task", dispatched)
    if response is None or not response.is_success:
        return
    ledger.dispatched.add(short_form_id)
    dispense = msg.dispense_notification(PROVIDER_ODS, facts, 1, SOURCE, now)
    response = await client.send_json("dispense", "/FHIR/R4/$process-message", dispense)
    if response is None or response.status_code != 200:
        return
    ledger.dispensed.add(short_form_id)
    task = msg.delivery_task(PROVIDER_ODS, facts, 1, "delivered", at=now)
    response = await client.send_json("delivery", "/FHIR/R4/Task", task)
    if response is not None and response.is_success:
        ledger.delivered.add(short_form_id)


# --- the run ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiCampaignReport:
    """The figures: kills of each kind, and per kind of effect what was confirmed, lost, duplicated, stuck."""

    database: str
    servers: int
    duration_seconds: float
    api_kills: int
    api_kills_random: int
    api_kills_self: dict[str, int]
    unexpected_exits: list[int]
    server_starts: int
    requests: int
    retries: int
    conflicts: int
    replayed: int
    refused: dict[str, int]
    effects: dict[str, dict[str, int]]
    lost: int
    duplicate_effects: int
    stuck: int
    audit_verified: bool
    audit_records: int

    @property
    def passed(self) -> bool:
        return (
            self.lost == 0 and self.duplicate_effects == 0 and self.stuck == 0 and self.audit_verified
            and not self.unexpected_exits
        )

    def as_dict(self) -> dict[str, Any]:
            return {**dataclasses.asdict(self), "passed": self.passed}


async def run_api_campaign(cfg: ApiCampaignConfig) -> ApiCampaignReport:
    """Run the campaign described by `cfg` and return its report (also when it did not pass)."""
    started = time.monotonic()
    give_up = started + cfg.deadline
    await asyncio.to_thread(upgrade, cfg.database_url)
    settings = Settings(data_dir=cfg.data_dir, database_url=cfg.database_url, mode="test", push_workers=0)
    gw = build_gateway(settings)  # makes the keys the servers will read
    rng = random.Random(cfg.seed)  # noqa: S311 - fault timing, not a secret
    ledger = Ledger()
    servers = ServerSet(cfg, rng)
    try:
        await admin.add_provider(gw, ods=PROVIDER_ODS, name="API Fault Campaign Homecare", mode="pull")
        await admin.add_route(gw, provider_ods=PROVIDER_ODS)
        await configure_sample_directory(gw)
        trust_key = await register_party(gw, "trust", TRUST_ODS)
        provider_key = await register_party(gw, "provider", PROVIDER_ODS)
        servers.start_all()
        async with _clients(servers.urls, trust_key, provider_key, ledger, cfg, give_up) as (trusts, providers):
            await _phases(gw, cfg, servers, ledger, trusts, providers, give_up)
        servers.stop()
        return await _report(gw, cfg, servers, ledger, time.monotonic() - started)
    finally:
        servers.stop()
        await gw.close()


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


async def _phases(
    gw: Gateway, cfg: ApiCampaignConfig, servers: ServerSet, ledger: Ledger,
    trusts: list[FailoverClient], providers: list[FailoverClient], give_up: float,
) -> None:
    stop_watch, restart, stop_providers = asyncio.Event(), asyncio.Event(), asyncio.Event()
    restart.set()
    batches = -(-cfg.prescriptions // cfg.batch)
    watcher = asyncio.create_task(servers.watch(stop_watch, restart=restart))
    provider_tasks = [asyncio.create_task(_provider(p, cfg, ledger, stop_providers)) for p in providers]
    try:
        trust_tasks = [
            asyncio.create_task(_trust(n, t, cfg, ledger, list(range(n, batches, len(trusts)))))
            for n, t in enumerate(trusts)
        ]
        lo, hi = cfg.kill_interval
        while (servers.kills_random < cfg.kills or not all(t.done() for t in trust_tasks)) and (
            time.monotonic() < give_up
        ):
            await asyncio.sleep(servers.rng.uniform(lo, hi))
            servers.kill_random()
        await asyncio.gather(*trust_tasks)
        # The drain: no more kills; servers that kill themselves are still started again, without a doom.
        servers.doomless = True
        drain_until = min(give_up, time.monotonic() + cfg.drain_timeout)
        while time.monotonic() < drain_until and await _unfinished(gw) > 0:
            await asyncio.sleep(0.2)
    finally:
        stop_providers.set()
        await asyncio.gather(*provider_tasks, return_exceptions=True)
        stop_watch.set()
        await watcher


async def _unfinished(gw: Gateway) -> int:
    try:
        async with gw.sessions() as session:
            return await delivery_ledger.unfinished_count(session, PROVIDER_ODS)
    except Exception:  # noqa: BLE001 - the store may be busy with a server's restart: look again
        return 1


async def _report(
    gw: Gateway, cfg: ApiCampaignConfig, servers: ServerSet, ledger: Ledger, duration: float
) -> ApiCampaignReport:
    effects = await check(gw, ledger)
    await sequence(gw, sign=True, wait=True)
    audit = await verify(gw)
    self_kills = dict(servers.self_kills)
    return ApiCampaignReport(
        database="sqlite" if cfg.sqlite else "postgresql",
        servers=len(servers.servers),
        duration_seconds=round(duration, 1),
        api_kills=servers.kills_random + sum(self_kills.values()),
        api_kills_random=servers.kills_random,
        api_kills_self=self_kills,
        unexpected_exits=servers.unexpected_exits,
        server_starts=servers.starts,
        requests=ledger.requests,
        retries=ledger.retries,
        conflicts=ledger.conflicts,
        replayed=ledger.replayed,
        refused=dict(ledger.refused),
        effects=effects,
        lost=sum(e["lost"] for e in effects.values()),
        duplicate_effects=sum(e["duplicate_effects"] for e in effects.values()),
        stuck=sum(e["stuck"] for e in effects.values()),
        audit_verified=audit.ok,
        audit_records=audit.records,
    )


async def check(gw: Gateway, ledger: Ledger) -> dict[str, dict[str, int]]:
    """Compare the database with what the clients were told, per kind of effect.

    - export: every (RxNumber, version) the trust saw accepted is one prescription row;
    - release: every order acknowledged was handed over to the provider (lost: never; stuck: still queued or
      leased); a duplicate is an order the gateway released again after its acknowledgement committed (it
      would be leased again: left leased with an acknowledgement applied, or acknowledged twice). The provider
      may still see an acknowledged order again in the replay of a `$release` answer whose leases ran out
      meanwhile (`replayed_after_acknowledged`): the replay is the first answer byte for byte, and the provider
      knows the order by its MessageHeader.id;
    - acknowledgement: every order the provider saw acknowledged is acknowledged, by one lifecycle event;
    - dispense: every notification the provider saw accepted is one dispense record;
    - dispatch: every dispatch Task the provider saw accepted is one `delivery-dispatched` event;
    - delivery: every delivery the provider saw accepted is delivered once (one event, one delivery made).

    `stuck` also counts the requests given up at the deadline."""
    async with gw.sessions() as session:
        found = await delivery_ledger.effects(session, TRUST_ODS, PROVIDER_ODS)
    prescriptions, outbox, events = found.prescriptions, found.outbox, found.events
    dispenses, releases, deliveries = found.dispenses, found.release_attempts, found.first_deliveries
    rows = Counter((p.rx_number, p.rx_version) for p in prescriptions)
    by_sfid = {p.short_form_id: p for p in prescriptions}
    by_id = {p.id: p for p in prescriptions}
    out: dict[str, dict[str, int]] = {}
    out["export"] = {
        "confirmed": len(ledger.exports),
        "amendments": sum(version > 1 for _, version in ledger.exports),
        "lost": sum(rows[key] == 0 for key in ledger.exports),
        "duplicate_effects": sum(rows[key] > 1 for key in ledger.exports),
        "stuck": ledger.unanswered["export"],
        "unconfirmed": sum(1 for key in rows if key not in ledger.exports),
    }
    ack_events = Counter(
        e.message_id for e in events if e.message_id is not None and e.kind in ("acknowledged", "cancelled", "rejected")
    )
    state = {e.message_id: e.state for e in outbox}
    # An order released again after its acknowledgement committed would be leased again: still leased (or queued)
    # with an acknowledgement applied, or acknowledged a second time. Timestamps cannot tell: a request reads the
    # clock before it waits for the database, so an acknowledgement stamped first may commit after a release.
    released_again = sum(
        (state[m] in ("queued", "leased") and ack_events[m] > 0) or ack_events[m] > 1 for m in state
    )
    out["release"] = {
        "confirmed": len(ledger.received),
        "lost": sum(1 for e in outbox if e.state == "acknowledged" and e.message_id not in ledger.received),
        "duplicate_effects": released_again,
        "handed_over_after_acknowledged": ledger.released_after_ack,
        "stuck": sum(e.state in ("queued", "leased") for e in outbox) + ledger.unanswered["release"],
        "handed_over_again": sum(n > 1 for n in ledger.received.values()),
        "replayed_after_acknowledged": ledger.replayed_after_ack,
        "release_attempts": int(releases),
    }
    out["acknowledgement"] = {
        "confirmed": len(ledger.acknowledged),
        "lost": sum(state.get(m) not in ("acknowledged", "cancelled", "rejected") for m in ledger.acknowledged),
        "duplicate_effects": sum(n > 1 for m, n in ack_events.items() if m in state),
        "stuck": ledger.unanswered["acknowledgement"],
    }
    records = Counter(by_id[d.prescription_id].short_form_id for d in dispenses if d.prescription_id in by_id)
    out["dispense"] = {
        "confirmed": len(ledger.dispensed),
        "lost": sum(records[s] == 0 for s in ledger.dispensed),
        "duplicate_effects": sum(n > 1 for n in records.values()),
        "stuck": ledger.unanswered["dispense"],
        "unconfirmed": sum(1 for s in records if s not in ledger.dispensed),
    }
    dispatched_events = Counter(e.prescription_id for e in events if e.kind == "delivery-dispatched")
    out["dispatch"] = {
        "confirmed": len(ledger.dispatched),
        "lost": sum(dispatched_events[by_sfid[s].id] == 0 for s in ledger.dispatched if s in by_sfid),
        "duplicate_effects": sum(n > 1 for n in dispatched_events.values()),
        "stuck": ledger.unanswered["dispatch"],
        "unconfirmed": sum(
            1 for p in prescriptions if dispatched_events[p.id] and p.short_form_id not in ledger.dispatched
        ),
    }
    delivered_events = Counter(e.prescription_id for e in events if e.kind == "delivery-delivered")
    delivered_rows = Counter(d.prescription_id for d in deliveries if d.state == "delivered")
    out["delivery"] = {
        "confirmed": len(ledger.delivered),
        "lost": sum(delivered_rows[by_sfid[s].id] == 0 for s in ledger.delivered if s in by_sfid),
        "duplicate_effects": sum(
            delivered_events[p.id] > 1 or delivered_rows[p.id] > 1 or p.deliveries_made > 1 for p in prescriptions
        ),
        "stuck": ledger.unanswered["delivery"],
        "unconfirmed": sum(
            1 for p in prescriptions if delivered_rows[p.id] and p.short_form_id not in ledger.delivered
        ),
    }
    return out
