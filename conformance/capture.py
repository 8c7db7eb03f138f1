"""Every HTTP exchange of a run, captured through httpx event hooks (outbound) or by the listener (inbound).

Secrets never reach a report: Authorization, cookies and API keys are replaced in headers, and client assertions
and access tokens in bodies.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-client-assertion"}
)
SECRET_FIELDS = frozenset({"client_assertion", "access_token", "refresh_token", "id_token", "client_secret"})
BODY_LIMIT = 200_000
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def redact_headers(headers: httpx.Headers | dict[str, str] | list[tuple[str, str]]) -> dict[str, str]:
    items = (
        headers.multi_items()
        if isinstance(headers, httpx.Headers)
        else (list(headers.items()) if isinstance(headers, dict) else headers)
    )
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        value = REDACTED if key in SECRET_HEADERS else value
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def redact_body(body: bytes, content_type: str | None) -> str:
    """The body as text for a report, secrets replaced; form bodies and JSON objects field by field."""
    text = body[:BODY_LIMIT].decode("utf-8", errors="replace")
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        pairs = [(k, REDACTED if k in SECRET_FIELDS else v) for k, v in parse_qsl(text, keep_blank_values=True)]
        return urlencode(pairs)
    if media.endswith("json"):
        try:
            data = json.loads(text)
        except ValueError:
            return _JWT.sub(REDACTED, text)
        if isinstance(data, dict) and SECRET_FIELDS & data.keys():
            return json.dumps({k: REDACTED if k in SECRET_FIELDS else v for k, v in data.items()})
    text = _JWT.sub(REDACTED, text)  # a bearer token or client assertion pasted anywhere else
    if len(body) > BODY_LIMIT:
        text += f"\n[… {len(body) - BODY_LIMIT} more bytes]"
    return text


@dataclass(slots=True)
class Exchange:
    id: int
    test: str | None
    direction: str
    """"outbound" (the suite called the target) or "inbound" (the target called the suite's listener)."""
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    elapsed_ms: float | None = None
    error: str | None = None
    started: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "test": self.test,
            "direction": self.direction,
            "method": self.method,
            "url": self.url,
            "request": {"headers": self.request_headers, "body": self.request_body},
            "response": {"status": self.status, "headers": self.response_headers, "body": self.response_body},
            "elapsed_ms": None if self.elapsed_ms is None else round(self.elapsed_ms, 1),
            "error": self.error,
        }


class Recorder:
    """Collects exchanges, each tagged with the test running when it happened."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self.current_test: str | None = None

    def client(
        self,
        base_url: str = "",
        *,
        auth: httpx.Auth | None = None,
        timeout: float = 30,
        verify: ssl.SSLContext | bool = True,
    ) -> httpx.AsyncClient:
        """An httpx client whose every request (token requests of `auth` included) is captured."""
        return httpx.AsyncClient(
            base_url=base_url,
            auth=auth,
            timeout=timeout,
            verify=verify,
            event_hooks={"request": [self._on_request], "response": [self._on_response]},
        )

    async def _on_request(self, request: httpx.Request) -> None:
        exchange = Exchange(
            id=len(self.exchanges) + 1,
            test=self.current_test,
            direction="outbound",
            method=request.method,
            url=str(request.url),
            request_headers=redact_headers(request.headers),
            request_body=redact_body(request.content, request.headers.get("content-type")),
            started=time.perf_counter(),
        )
        self.exchanges.append(exchange)
        request.extensions["hgw_exchange"] = exchange

    async def _on_response(self, response: httpx.Response) -> None:
        exchange = response.request.extensions.get("hgw_exchange")
        if not isinstance(exchange, Exchange):
            return
        await response.aread()
        exchange.elapsed_ms = (time.perf_counter() - exchange.started) * 1000
        exchange.status = response.status_code
        exchange.response_headers = redact_headers(response.headers)
        exchange.response_body = redact_body(response.content, response.headers.get("content-type"))

    def inbound(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        status: int,
        answer: bytes,
        answer_type: str,
        elapsed_ms: float,
    ) -> Exchange:
        """Record a request the target made to the suite's listener and what the listener answered."""
        header_map = redact_headers(headers)
        exchange = Exchange(
            id=len(self.exchanges) + 1,
            test=self.current_test,
            direction="inbound",
            method=method,
            url=url,
            request_headers=header_map,
            request_body=redact_body(body, header_map.get("content-type")),
            status=status,
            response_headers={"content-type": answer_type},
            response_body=redact_body(answer, answer_type),
            elapsed_ms=elapsed_ms,
        )
        self.exchanges.append(exchange)
        return exchange

    def failed(self, error: httpx.TransportError) -> None:
        """Note on its exchange why a request got no response (refused, timed out, reset)."""
        try:
            request = error.request
        except RuntimeError:  # raised before a request existed
            return
        exchange = request.extensions.get("hgw_exchange")
        if isinstance(exchange, Exchange) and exchange.status is None:
            exchange.error = f"{type(error).__name__}: {error}"
            exchange.elapsed_ms = (time.perf_counter() - exchange.started) * 1000

    def of_test(self, test_id: str) -> list[int]:
        return [e.id for e in self.exchanges if e.test == test_id]
