"""The API campaign's servers: `hgw serve` processes (`gateway.bench.faults.server`) on fixed loopback ports, forked
by a fork server that has imported the gateway once (`gateway.bench.faults.zygote --servers`), so that a restart
costs about a second, not the seconds of imports (many more on a loaded machine) a fresh interpreter needs.

Some starts carry a doom (the server kills itself at its worst moment); the driver SIGKILLs them at random; any that
ends is counted by how it died and started again on its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway.bench.faults.api_config import ApiCampaignConfig
from gateway.bench.faults.forks import Forked, Zygote
from gateway.bench.faults.server import DOOMS


@dataclass
class _Server:
    port: int
    process: Forked | None = None
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
    env: dict[str, str] = field(default_factory=dict)
    """More settings for every server (the trust webhook receiver's alert URL)."""
    kill_dir: Path = field(init=False)
    zygote: Zygote = field(default_factory=lambda: Zygote(servers=True))

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
            # The webhook relay and the alert loop run in every server: each kill is one of theirs too.
            "HGW_WEBHOOK_WORKERS": "1",
            "HGW_WEBHOOK_POLL_SECONDS": "0.2",
            "HGW_WEBHOOK_LEASE_SECONDS": str(self.cfg.lease_seconds),  # a killed relay's events come back soon
            "HGW_OUTBOUND_ALLOW_LOOPBACK": "true",
            "HGW_ALERT_INTERVAL_SECONDS": "1",
            **self.env,
        }
        log = None
        if self.cfg.log_dir is not None:
            self.cfg.log_dir.mkdir(parents=True, exist_ok=True)
            log = str(self.cfg.log_dir / f"server-{server.port}.log")
        if not self.zygote.started:
            self.zygote.start(timeout=120)  # imports the gateway: slow on a loaded machine, once
        server.process = Forked(self.zygote, self.zygote.fork({"serve": {"env": env, "log": log}}))
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

    def kill_random(self, waiting: Iterable[float] = ()) -> bool:
        """SIGKILL a random server that has been serving for `min_uptime`, while another one serves (when there
        are two); False when none may be killed now. `waiting`: when each request the clients are still waiting
        for was first sent. A server is not killed while a request sent before it came up waits: every life of
        a server gets through what was waiting for it. On a loaded machine a server takes seconds to start and a
        request seconds to answer: without these rules the kills would outpace them and nothing would get
        through (a livelock the campaign would report as requests stuck at the deadline)."""
        up = [s for s in self.servers if s.process is not None and s.ready and s.process.poll() is None]
        now = time.monotonic()
        oldest = min(waiting, default=now)
        eligible = [s for s in up if now - s.ready_at >= self.cfg.min_uptime and oldest >= s.ready_at]
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
        self.zygote.stop(grace)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
