"""Security headers, correlation ids and one structured log line per request (never a body).

A pure ASGI middleware, not Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`): that one runs every
request in a task group of its own and streams the answer through a memory channel, which cost more CPU than
the rest of the framework on the one-message EPS path (issue 19, docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import time
import uuid

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.errors import internal_error
from gateway.budget import request_budget
from gateway.logs import correlation_id, log

logger = logging.getLogger("gateway.http")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_MAX_INCOMING_ID = 128


def install_middleware(app: FastAPI) -> None:
    app.add_middleware(RequestFrameMiddleware)


def request_correlation_id(scope: Scope) -> str:
    """The caller's `X-Request-ID` (or `X-Correlation-ID`) when it is short and printable, else a new UUID."""
    headers: dict[bytes, bytes] = dict(scope.get("headers") or ())
    incoming = headers.get(b"x-request-id") or headers.get(b"x-correlation-id")
    if incoming:
        text = incoming.decode("latin-1")
        if len(text) <= _MAX_INCOMING_ID and text.isprintable():
            return text
    return str(uuid.uuid4())


class RequestFrameMiddleware:
    """Around every HTTP request: its correlation id (in the logs and the `X-Correlation-ID` answer header), its
    CPU budget, the security headers, one log line, and a 500 without detail for anything that escapes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = request_correlation_id(scope)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def framed_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
                headers["X-Correlation-ID"] = cid
            await send(message)

        token = correlation_id.set(cid)
        budget = scope["app"].state.gateway.settings.request_cpu_seconds
        try:
            with request_budget(budget):
                await self.app(scope, receive, framed_send)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: answered, logged, headers set
            # The type only: a message could quote the request (patient data). The log has the correlation id.
            log(logger, logging.ERROR, "unhandled error", error=type(exc).__name__, path=scope.get("path", ""))
            if response_started:
                raise  # half an answer is out: the server closes the connection
            await internal_error(scope.get("path", ""))(scope, receive, framed_send)
        finally:
            principal = scope.get("state", {}).get("principal")
            log(
                logger,
                logging.INFO,
                "request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
                client_id=principal.client_id if principal else None,
            )
            correlation_id.reset(token)
