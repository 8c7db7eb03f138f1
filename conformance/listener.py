"""The suite's own HTTP endpoint, for a side that calls in: a polling provider, or a trust system sending.

`listen://HOST:PORT` targets start one (port 0 picks a free port). Every request it answers is recorded as an
inbound exchange of the test running at that moment; arrivals are queued so that tests can wait on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from conformance.capture import Recorder
from conformance.errors import UsageError


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request the target made."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/fhir+json"


Handler = Callable[[Arrival], Awaitable[Answer]]


def parse_listen(target: str) -> tuple[str, int]:
    """("127.0.0.1", 8099) from listen://127.0.0.1:8099."""
    parts = urlsplit(target)
    if parts.scheme != "listen" or not parts.hostname:
        raise UsageError(f"expected listen://HOST:PORT, not {target!r}")
    try:
        port = parts.port or 0
    except ValueError as exc:
        raise UsageError(f"bad port in {target!r}") from exc
    return parts.hostname, port


class Listener:
    """An ASGI app handing each request to `handler`, recording it and queueing it for tests to wait on."""

    def __init__(self, handler: Handler, recorder: Recorder) -> None:
        self.handler = handler
        self.recorder = recorder
        self.arrivals: list[Arrival] = []
        self._changed = asyncio.Condition()
        self.url = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        begin = time.perf_counter()
        body = await request.body()
        arrival = Arrival(
            request.method,
            request.url.path,
            request.url.query,
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
        try:
            answer = await self.handler(arrival)
        except Exception as exc:  # noqa: BLE001 - the other side gets a 500 and the run goes on
            answer = Answer(500, f"conformance listener error: {type(exc).__name__}".encode(), "text/plain")
        self.recorder.inbound(
            request.method,
            str(request.url),
            list(request.headers.items()),
            body,
            answer.status,
            answer.body,
            answer.content_type,
            (time.perf_counter() - begin) * 1000,
        )
        async with self._changed:
            self.arrivals.append(arrival)
            self._changed.notify_all()
        await Response(answer.body, status_code=answer.status, media_type=answer.content_type)(scope, receive, send)

    async def wait_for(self, accept: Callable[[Arrival], bool], timeout: float) -> Arrival | None:
        """The first arrival so far or to come that `accept` takes, or None when `timeout` seconds pass first."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                while True:
                    found = next((a for a in self.arrivals if accept(a)), None)
                    if found is not None:
                        return found
                    await self._changed.wait()
        except TimeoutError:
            return None


@contextlib.asynccontextmanager
async def listening(listener: Listener, host: str, port: int) -> AsyncIterator[str]:
    """Serve `listener` on host:port for the duration; yields its base URL."""
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP; without it each answer written
    # in two parts waits out the client's 40 ms delayed ACK.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:  # bound here, so that a busy port is a usage error and not uvicorn's sys.exit
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(listener, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                sock.close()
                raise UsageError(f"the listener on {host}:{bound} did not start")
            await asyncio.sleep(0.01)
    listener.url = f"http://{host}:{bound}"
    try:
        yield listener.url
    finally:
        server.should_exit = True
        await task
        sock.close()
