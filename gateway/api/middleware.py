"""Security headers, correlation ids and one structured log line per request (never a body)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

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


def install_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def _around(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        incoming = request.headers.get("x-request-id") or request.headers.get("x-correlation-id")
        cid = incoming if incoming and len(incoming) <= 128 and incoming.isprintable() else str(uuid.uuid4())
        token = correlation_id.set(cid)
        started = time.perf_counter()
        budget = request.app.state.gateway.settings.request_cpu_seconds
        try:
            with request_budget(budget):
                response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: answered, logged, headers set
            # The type only: a message could quote the request (patient data). The log has the correlation id.
            log(logger, logging.ERROR, "unhandled error", error=type(exc).__name__, path=request.url.path)
            response = internal_error(request.url.path)
        finally:
            correlation_id.reset(token)
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Correlation-ID"] = cid
        principal = getattr(request.state, "principal", None)
        correlation_id.set(cid)
        log(
            logger,
            logging.INFO,
            "request",
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 1),
            client_id=principal.client_id if principal else None,
        )
        correlation_id.set(None)
        return response
