"""A fork server for campaign workers: imports the worker once, then forks a ready worker per request.

    python -m gateway.bench.faults.zygote

reads one JSON command a line on stdin and writes one JSON event a line on stdout:

- `{"spawn": {WorkerSpec fields}}` → `{"pid": N}`: a forked child runs `worker_main`;
- whenever a child ends → `{"exit": N, "code": C}` (`C` negative: killed by signal `-C`).

End of stdin ends the server, after SIGKILLing any child still running. Why not multiprocessing's forkserver:
on Python 3.11 it cannot preload the main module, so each child imported the main script again (`hgw` or
pytest: a second or more), and the campaign's kills would land in imports instead of in deliveries.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import sys
from typing import Any

from gateway.bench.faults.worker import WorkerSpec, worker_main


def _emit(event: dict[str, Any]) -> None:
    os.write(1, (json.dumps(event) + "\n").encode())


def _child(spec: WorkerSpec, wakeup: tuple[int, int]) -> None:
    """In the forked child: drop the server's plumbing, run the worker, never return."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in wakeup:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)  # stdout is the server's event stream
        os.close(devnull)
        worker_main(spec)
        code = 0
    finally:
        os._exit(code)


def _reap(children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        _emit({"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def serve() -> None:
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    children: set[int] = set()
    pending = b""
    _emit({"ready": os.getpid()})
    try:
        while True:
            for key, _ in selector.select():
                if key.fd == wake_r:
                    os.read(wake_r, 4096)
                    _reap(children)
                    continue
                chunk = os.read(0, 65536)
                if not chunk:
                    return
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    spec = WorkerSpec(**json.loads(line)["spawn"])
                    pid = os.fork()
                    if pid == 0:
                        _child(spec, (wake_r, wake_w))
                    children.add(pid)
                    _emit({"pid": pid})
            _reap(children)
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    try:
        serve()
    except KeyboardInterrupt:
        sys.exit(0)
