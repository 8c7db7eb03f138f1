"""The alert notifiers against real servers on loopback: an HTTP receiver and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import contextlib
import email
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Iterator
from email.message import Message
from typing import Any

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request, Response

from gateway.alerts.evaluate import evaluate
from gateway.alerts.notify import EmailNotifier, Notice, NotificationError, WebhookNotifier, notifiers_from_settings
from gateway.errors import ConfigurationError
from gateway.operations import admin
from gateway.settings import Settings
from gateway.wiring import build_gateway
from tests.conftest import serve
from tests.integration.test_alerts import QUIET
from tests.integration.test_push import FakeClock

NOTICE = Notice(
    alert_id=7, event="opened", rule="queue-age", subject="VNFKT", value=75.0, threshold=60.0,
    summary="VNFKT: oldest of 3 waiting message(s) is 75 min old (threshold 60 min)",
    opened_at="2026-11-23T01:00:00+00:00", resolved_at=None, gateway="http://gateway.example",
)
SECRET = "webhook-secret"  # noqa: S105


class Receiver:
    """An alert webhook receiver answering from `script` (then 200), keeping every body and header set."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.app = FastAPI()
        self.app.add_api_route("/hook", self._hook, methods=["POST"])

    async def _hook(self, request: Request) -> Response:
        self.bodies.append(await request.body())
        self.headers.append(dict(request.headers))
        return Response(status_code=self.script.pop(0) if self.script else 200)

    def notices(self) -> list[dict[str, Any]]:
        return [json.loads(b) for b in self.bodies]


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    server = uvicorn.Server(uvicorn.Config(receiver.app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    try:
        yield receiver, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/hook"
    finally:
        server.should_exit = True
        await task


class Mailbox:
    """aiosmtpd handler: every message accepted, kept parsed."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.refuse = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        if self.refuse:
            self.refuse -= 1
            return "451 try again later"
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


async def test_webhook_retries_a_failing_receiver_and_signs_the_body() -> None:
    async with receiving() as (receiver, url):
        receiver.script = [503, 500]
        await WebhookNotifier(url, SECRET, backoff=0.01).send(NOTICE)
    assert len(receiver.bodies) == 3 and receiver.notices()[-1] == NOTICE.as_json()
    for body, headers in zip(receiver.bodies, receiver.headers, strict=True):
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-hgw-signature"] == f"sha256={expected}"
        assert headers["x-hgw-alert"] == "7:opened" and headers["content-type"] == "application/json"


async def test_webhook_gives_up_at_once_on_a_4xx_and_after_its_attempts_on_5xx() -> None:
    async with receiving() as (receiver, url):
        receiver.script = [400]
        with pytest.raises(NotificationError) as refused:
            await WebhookNotifier(url, backoff=0.01).send(NOTICE)
        assert refused.value.retry is False and len(receiver.bodies) == 1
        assert "x-hgw-signature" not in receiver.headers[0]  # no secret, no signature
        receiver.script = [503, 503, 503]
        with pytest.raises(NotificationError) as down:
            await WebhookNotifier(url, backoff=0.01).send(NOTICE)
        assert down.value.retry is True and str(down.value) == "webhook answered HTTP 503"
        assert len(receiver.bodies) == 4
    with pytest.raises(NotificationError, match="webhook unreachable"):
        await WebhookNotifier(url, backoff=0.01, attempts=2).send(NOTICE)  # the receiver is gone


async def test_email_reaches_a_real_smtp_server_and_retries_a_4xx(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    mailbox.refuse = 1
    notifier = EmailNotifier("127.0.0.1", port, "hgw@gateway.example", ["ops@trust.example", "oncall@x.example"],
                             backoff=0.01)
    await notifier.send(NOTICE)
    ((rcpts, message),) = mailbox.messages
    assert rcpts == ["ops@trust.example", "oncall@x.example"]
    assert message["Subject"] == "[Homecare Gateway] OPENED: queue-age VNFKT"
    assert message["From"] == "hgw@gateway.example"
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert body.startswith(NOTICE.summary) and "threshold: 60.0" in body


async def test_email_to_a_closed_port_fails_retryably() -> None:
    notifier = EmailNotifier("127.0.0.1", _free_port(), "hgw@x.example", ["ops@x.example"], attempts=2, backoff=0.01)
    with pytest.raises(NotificationError) as failed:
        await notifier.send(NOTICE)
    assert failed.value.retry is True and str(failed.value).startswith("SMTP failed")


def test_settings_build_the_channels() -> None:
    assert notifiers_from_settings(Settings(mode="test")) == []
    with pytest.raises(ConfigurationError):
        notifiers_from_settings(Settings(mode="test", alert_smtp_host="127.0.0.1"))
    both = notifiers_from_settings(
        Settings(mode="test", alert_webhook_url="http://h.example/", alert_smtp_host="127.0.0.1",
                 alert_email_from="a@x.example", alert_email_to="b@x.example, c@x.example")
    )
    assert [n.name for n in both] == ["webhook", "email"]
    assert isinstance(both[1], EmailNotifier) and list(both[1].recipients) == ["b@x.example", "c@x.example"]


async def test_an_alert_reaches_both_channels_once_when_it_opens_and_once_when_it_resolves(
    settings: Settings, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    async with receiving() as (receiver, url):
        configured = settings.model_copy(update={
            **QUIET, "alert_silent_minutes": 30, "alert_resolve_after_seconds": 0, "alert_webhook_url": url,
            "alert_webhook_secret": SECRET, "alert_smtp_host": "127.0.0.1", "alert_smtp_port": port,
            "alert_email_from": "hgw@gateway.example", "alert_email_to": "ops@trust.example",
        })
        clock = FakeClock()
        gw = build_gateway(configured, clock=clock)
        try:
            await admin.add_provider(gw, ods="VNFKT", name="Pull Homecare", mode="pull")
            channels = notifiers_from_settings(gw.settings)
            clock.advance(31 * 60)
            for _ in range(3):
                await evaluate(gw, channels)
                clock.advance(60)
            async with gw.sessions() as session, session.begin():
                from gateway.store import provider_rows

                await provider_rows.touch_provider_poll(session, "VNFKT", clock())
            for _ in range(3):
                await evaluate(gw, channels)
                clock.advance(60)
        finally:
            await gw.close()
    assert [(n["event"], n["rule"], n["subject"]) for n in receiver.notices()] == [
        ("opened", "provider-silent", "VNFKT"), ("resolved", "provider-silent", "VNFKT")
    ]
    assert [m["Subject"] for _, m in mailbox.messages] == [
        "[Homecare Gateway] OPENED: provider-silent VNFKT", "[Homecare Gateway] RESOLVED: provider-silent VNFKT"
    ]


async def test_the_app_evaluates_on_its_interval_and_notifies(settings: Settings) -> None:
    async with receiving() as (receiver, url):
        configured = settings.model_copy(update={
            **QUIET, "alert_silent_minutes": 30, "alert_interval_seconds": 1, "alert_webhook_url": url,
        })
        clock = FakeClock()
        gw = build_gateway(configured, clock=clock)
        try:
            await admin.add_provider(gw, ods="VNFKT", name="Pull Homecare", mode="pull")
            clock.advance(31 * 60)
            async with serve(gw):
                assert "alerts" in gw.telemetry.heartbeats
                async with asyncio.timeout(15):
                    while not receiver.bodies:
                        await asyncio.sleep(0.05)
                task = gw.telemetry.heartbeats["alerts"].task
                assert task is not None and not task.done()
            assert task.done() and not task.cancelled()  # stopped with the app, cleanly
        finally:
            await gw.close()
    assert [(n["event"], n["rule"]) for n in receiver.notices()] == [("opened", "provider-silent")]
