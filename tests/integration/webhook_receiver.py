"""A trust's webhook receiver on a real loopback socket: records every request and answers as scripted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from gateway.settings import Settings
from gateway.webhooks.signature import Signed, verify
from tests.conftest import running


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event_id(self) -> str:
        return self.headers["x-hgw-event-id"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers `script` statuses in turn, then `default`. `received`: every request, in arrival order."""

    url: str = ""
    script: list[int] = field(default_factory=list)
    default: int = 200
    received: list[Received] = field(default_factory=list)

    async def app(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status = self.script.pop(0) if self.script else self.default
        self.received.append(Received(headers, b"".join(chunks), status))
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"not now"})

    def delivered(self) -> list[Received]:
        """The requests answered with a 2xx, in arrival order."""
        return [r for r in self.received if r.answered < 300]


@contextlib.asynccontextmanager
async def receiver(script: list[int] | None = None, default: int = 200) -> AsyncIterator[Receiver]:
    rec = Receiver(script=list(script or []), default=default)
    config = uvicorn.Config(rec.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", interface="asgi3")
    async with running(config) as port:
        rec.url = f"http://127.0.0.1:{port}/hooks/status"
        yield rec


async def until(condition: Callable[[], bool], *, timeout: float = 30.0, what: str = "the condition") -> None:
    """Wait for `condition` to hold, checking often; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def until_recorded(
    trust: httpx.AsyncClient, subscription: str, count: int, *, state: str | None = None, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """The subscription's deliveries (of `state`, if given) once `count` of them are finished (delivered or dead):
    a receiver has its request before the relay commits what it answered."""
    deadline = time.monotonic() + timeout
    while True:
        params = {"state": state} if state else {}
        r = await trust.get(f"/api/v1/webhooks/{subscription}/deliveries", params=params)
        rows = list(r.json()["deliveries"])
        if sum(d["state"] in ("delivered", "dead") for d in rows) >= count:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {count} finished deliveries: {rows}")
        await asyncio.sleep(0.05)


async def gateway_jwks(base_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.get("/.well-known/jwks.json")
    r.raise_for_status()
    return dict(r.json())


def verified(received: Received, jwks: dict[str, Any]) -> Signed:
    """The signature check a trust's receiver makes, as docs/trust-integration.md describes it."""
    return verify(received.body, received.headers, jwks, now=time.time())


def quick_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """conftest's settings, with webhook workers that look for work every 50 ms instead of every second."""
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, mode="test", port=0, token_seconds=3600,
        outbound_allow_loopback=True, webhook_poll_seconds=0.05, **overrides,
    )
