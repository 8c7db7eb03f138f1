"""The processes a campaign (or a delivery benchmark) runs: the provider, and a pool of push workers.

Workers come from a fork server (`gateway.bench.faults.zygote`) that has already imported `gateway.bench.faults.worker`:
starting one costs a fork, not the second of imports a fresh interpreter needs, so the campaign can kill several
a second and each kill still lands in real work. Every process here is ended by its own pid, never by name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gateway.bench.faults.forks import START_TIMEOUT, Zygote
from gateway.bench.faults.worker import WorkerSpec


@dataclass
class ReceiverProcess:
    """The provider server (`gateway.bench.faults.receiver`) as a child process."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/FHIR/R4/$process-message"

    async def ledger(self, *, times: bool = False) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(f"http://127.0.0.1:{self.port}/_report{'?times=1' if times else ''}")
        response.raise_for_status()
        ledger: dict[str, Any] = response.json()
        return ledger

    async def set_mix(self, mix: str) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(f"http://127.0.0.1:{self.port}/_mix", content=mix.encode())
        response.raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


@contextlib.contextmanager
def receiver_process(provider_ods: str, *, mix: str, seed: int, slow: float) -> Iterator[ReceiverProcess]:
    """Start the provider and wait for its port; stopped on exit."""
    command = [
        sys.executable, "-m", "gateway.bench.faults.receiver",
        "--ods", provider_ods, "--mix", mix, "--seed", str(seed), "--slow", str(slow), "--exit-with-parent",
    ]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # noqa: S603 - our module
    receiver: ReceiverProcess | None = None
    try:
        receiver = ReceiverProcess(process, _read_port(process))
        yield receiver
    finally:
        if receiver is not None:
            receiver.stop()
        else:
            if process.poll() is None:
                process.kill()
                process.wait(10)
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()


def _read_port(process: subprocess.Popen[bytes]) -> int:
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline() if process.stdout else b""))
    reader.start()
    reader.join(START_TIMEOUT)
    if not line or not line[0]:
        raise RuntimeError("the provider server did not start")
    return int(json.loads(line[0])["port"])


@dataclass
class WorkerPool:
    """`size` worker processes kept running, forked by the zygote (`gateway.bench.faults.zygote`); dead ones are
    counted and replaced."""

    spec: WorkerSpec
    size: int
    live: set[int] = field(default_factory=set)
    stalled: set[int] = field(default_factory=set)
    killed_by_us: set[int] = field(default_factory=set)
    self_killed: int = 0
    unexpected_exits: int = 0
    zygote: Zygote = field(default_factory=Zygote)

    def start(self) -> None:
        """Start the zygote and wait until it is ready (it imports the worker once, here)."""
        self.zygote.start()

    def spawn(self) -> int:
        pid = self.zygote.fork({"spawn": dataclasses.asdict(self.spec)})
        self.live.add(pid)
        return pid

    def fill(self) -> None:
        if not self.zygote.started:
            self.start()
        while len(self.live) < self.size:
            self.spawn()

    def exited(self, pid: int) -> bool:
        return self.zygote.exit_code(pid) is not None

    def reap(self) -> int:
        """Forget exited workers (counting how they ended) and start replacements; how many were replaced."""
        gone = {pid: code for pid in list(self.live) if (code := self.zygote.forget(pid)) is not None}
        for pid, code in gone.items():
            self.live.discard(pid)
            self.stalled.discard(pid)
            if pid in self.killed_by_us:
                self.killed_by_us.discard(pid)
            elif code == -signal.SIGKILL:
                self.self_killed += 1  # the kill-before-commit fault
            elif code != 0:
                self.unexpected_exits += 1
        self.fill()
        return len(gone)

    def pick(self, rng: random.Random) -> int | None:
        """A running worker that is neither stalled by us nor frozen by a stall-after-answer fault, at random."""
        frozen = {int(p.name) for p in Path(self.spec.stall_dir).iterdir()} if self.spec.stall_dir else set()
        candidates = sorted(
            pid for pid in self.live if pid not in self.stalled and pid not in frozen and not self.exited(pid)
        )
        return rng.choice(candidates) if candidates else None

    def kill(self, pid: int) -> None:
        """SIGKILL one worker by its pid."""
        if pid not in self.live or self.exited(pid):
            return
        self.killed_by_us.add(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def stall(self, pid: int) -> bool:
        """SIGSTOP one worker: it holds its leases and connections, frozen, like a process swapped out.
        False if it had already ended."""
        if pid not in self.live or self.exited(pid):
            return False
        self.stalled.add(pid)
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:  # it died meanwhile (a kill-before-commit): reaped soon
            self.stalled.discard(pid)
            return False
        return True

    def resume(self, pid: int) -> None:
        if pid in self.stalled:
            self.stalled.discard(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM every worker, wait for them, SIGKILL what is left, then end the zygote."""
        for pid in list(self.live):
            self.resume(pid)
            if not self.exited(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(not self.exited(pid) for pid in self.live) and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in self.live:
            if not self.exited(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.live.clear()
        self.zygote.stop(grace)
