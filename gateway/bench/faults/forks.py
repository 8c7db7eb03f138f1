"""The campaigns' side of a fork server (`gateway.bench.faults.zygote`): start it, ask it for children, learn how
they ended. Its children are not ours, so each is handled by pid through `Forked`, shaped like the part of
`subprocess.Popen` the campaigns use."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

START_TIMEOUT = 30.0


@dataclass
class Zygote:
    """A running fork server. `servers`: it has imported the API server too (`--servers`), not only the worker."""

    servers: bool = False
    _process: subprocess.Popen[bytes] | None = None
    _pids: queue.Queue[int] = field(default_factory=queue.Queue)
    _exits: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reader: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._process is not None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start it and wait until it has imported what it forks."""
        command = [sys.executable, "-m", "gateway.bench.faults.zygote", *(["--servers"] if self.servers else [])]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # noqa: S603
        self._reader = threading.Thread(target=self._events, name="zygote-events", daemon=True)
        self._reader.start()
        self._pids.get(timeout=timeout)  # its "ready"

    def _events(self) -> None:
        if self._process is None or self._process.stdout is None:
            return
        for line in self._process.stdout:
            event = json.loads(line)
            if "exit" in event:
                with self._lock:
                    self._exits[int(event["exit"])] = int(event["code"])
            else:
                self._pids.put(int(event.get("pid", event.get("ready", 0))))

    def fork(self, command: dict[str, Any], timeout: float = START_TIMEOUT) -> int:
        """A child for `command` (see the zygote's module); its pid."""
        if self._process is None or self._process.stdin is None:
            raise RuntimeError("the fork server is not started")
        self._process.stdin.write(json.dumps(command).encode() + b"\n")
        self._process.stdin.flush()
        return self._pids.get(timeout=timeout)

    def exit_code(self, pid: int) -> int | None:
        """How child `pid` ended (negative: the signal that killed it), or None while it runs."""
        with self._lock:
            return self._exits.get(pid)

    def forget(self, pid: int) -> int | None:
        with self._lock:
            return self._exits.pop(pid, None)

    def stop(self, grace: float = 10.0) -> None:
        """End the fork server, which SIGKILLs any child it still has."""
        if self._process is None:
            return
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(grace)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(grace)
        if self._reader is not None:
            self._reader.join(grace)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._process = None


@dataclass
class Forked:
    """A child of a `Zygote`, handled like a `subprocess.Popen`."""

    zygote: Zygote
    pid: int

    def poll(self) -> int | None:
        return self.zygote.exit_code(self.pid)

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (code := self.poll()) is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.02)
        return code
