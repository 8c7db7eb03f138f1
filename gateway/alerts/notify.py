"""Alert notifiers: a webhook (JSON POST, HMAC-SHA256 signed when a secret is set) and e-mail over SMTP.

Each notifier retries a few times within one call (a blip should not cost an evaluation interval); a notice that
still fails is retried by later evaluations (`gateway.alerts.evaluate`), at most `MAX_NOTIFY_ATTEMPTS` times.
Notices carry rule kinds, provider ODS codes, counts and times: never patient data.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

import httpx

from gateway.errors import ConfigurationError, GatewayError
from gateway.settings import Settings


class NotificationError(GatewayError):
    """A notice could not be delivered; `retry` says whether trying again later may help."""

    code = "ALERT_NOTIFICATION_FAILED"

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True, slots=True)
class Notice:
    """One transition of one alert, as every channel reports it."""

    alert_id: int
    event: str  # opened or resolved
    rule: str
    subject: str
    value: float
    threshold: float
    summary: str
    opened_at: str
    resolved_at: str | None
    gateway: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def title(self) -> str:
        return f"[Homecare Gateway] {self.event.upper()}: {self.rule} {self.subject}"


class Notifier(Protocol):
    name: str

    async def send(self, notice: Notice) -> None:
        """Deliver `notice`, or raise NotificationError."""


@dataclass
class WebhookNotifier:
    url: str
    secret: str | None = None
    transport: httpx.AsyncBaseTransport | None = None
    attempts: int = 3
    backoff: float = 0.5
    timeout: float = 10.0
    name: str = "webhook"

    async def send(self, notice: Notice) -> None:
        body = json.dumps(notice.as_json(), sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "X-HGW-Alert": f"{notice.alert_id}:{notice.event}"}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-HGW-Signature"] = f"sha256={digest}"
        problem = "not sent"
        async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as client:
            for attempt in range(self.attempts):
                if attempt:
                    await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
                try:
                    response = await client.post(self.url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    problem = f"webhook unreachable ({type(exc).__name__})"
                    continue
                if response.is_success:
                    return
                problem = f"webhook answered HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in (408, 429):
                    raise NotificationError(problem, retry=False)
        raise NotificationError(problem)


@dataclass
class EmailNotifier:
    host: str
    port: int
    sender: str
    recipients: Sequence[str]
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    attempts: int = 3
    backoff: float = 0.5
    timeout: float = 10.0
    name: str = "email"

    def message(self, notice: Notice) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = notice.title
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Message-ID"] = make_msgid(idstring=f"alert-{notice.alert_id}-{notice.event}")
        lines = [notice.summary, ""] + [f"{k}: {v}" for k, v in notice.as_json().items() if v is not None]
        msg.set_content("\n".join(lines))
        return msg

    def _send_blocking(self, msg: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(msg)

    async def send(self, notice: Notice) -> None:
        msg = self.message(notice)
        problem = "not sent"
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                await asyncio.to_thread(self._send_blocking, msg)
                return
            except smtplib.SMTPResponseException as exc:
                problem = f"SMTP server answered {exc.smtp_code}"
                if exc.smtp_code >= 500:
                    raise NotificationError(problem, retry=False) from exc
            except (smtplib.SMTPException, OSError) as exc:
                problem = f"SMTP failed ({type(exc).__name__})"
        raise NotificationError(problem)


def notifiers_from_settings(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> list[Notifier]:
    """The channels configured by HGW_ALERT_WEBHOOK_* and HGW_ALERT_SMTP_* / HGW_ALERT_EMAIL_*."""
    found: list[Notifier] = []
    if settings.alert_webhook_url:
        found.append(WebhookNotifier(settings.alert_webhook_url, settings.alert_webhook_secret, transport))
    if settings.alert_smtp_host:
        recipients = [r.strip() for r in (settings.alert_email_to or "").split(",") if r.strip()]
        if not recipients or not settings.alert_email_from:
            raise ConfigurationError(
                "HGW_ALERT_SMTP_HOST is set, so HGW_ALERT_EMAIL_FROM and HGW_ALERT_EMAIL_TO are needed too"
            )
        found.append(
            EmailNotifier(
                settings.alert_smtp_host,
                settings.alert_smtp_port,
                settings.alert_email_from,
                recipients,
                starttls=settings.alert_smtp_starttls,
                username=settings.alert_smtp_username,
                password=settings.alert_smtp_password,
            )
        )
    return found
