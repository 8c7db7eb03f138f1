"""A fork server for campaign processes: imports them once, then forks a ready one per request.

    python -m gateway.bench.faults.zygote            # push workers
    python -m gateway.bench.faults.zygote --servers  # API servers (`hgw serve`), too

reads one JSON command a line on stdin and writes one JSON event a line on stdout:

- `{"spawn": {WorkerSpec fields}}` → `{"pid": N}`: a forked child runs `worker_main`;
- `{"serve": {"env": {...}, "log": PATH or null}}` → `{"pid": N}`: a forked child runs the campaign's API server
  (`gateway.bench.faults.server`) with exactly that environment, its output appended to the log;
- whenever a child ends → `{"exit": N, "code": C}` (`C` negative: killed by signal `-C`).

A server started afresh spends seconds importing the gateway before it serves (more on a loaded machine, where the
API campaign's restarts then outlasted its deadline); forked from here it is serving in about a second.

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


def _child(command: dict[str, Any], wakeup: tuple[int, int]) -> None:
    """In the forked child: drop the server's plumbing, run the worker or the API server, never return."""
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
        if "serve" in command:
            code = _serve(command["serve"])
        else:
            worker_main(WorkerSpec(**command["spawn"]))
            code = 0
    finally:
        os._exit(code)


def _serve(order: dict[str, Any]) -> int:
    from gateway.bench.faults import server

    os.environ.clear()
    os.environ.update(order["env"])
    log = order.get("log")
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    try:
        server.main()
    except SystemExit as ended:
        return ended.code if isinstance(ended.code, int) else 1
    return 0


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
                    command = json.loads(line)
                    pid = os.fork()
                    if pid == 0:
                        _child(command, (wake_r, wake_w))
                    children.add(pid)
                    _emit({"pid": pid})
            _reap(children)
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    if "--servers" in sys.argv[1:]:
        from gateway.bench.faults import server

        server.preload()
    try:
        serve()
    except KeyboardInterrupt:
        sys.exit(0)
