"""Request plumbing shared by routes: the Gateway from app state and size-limited bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from gateway.budget import offload
from gateway.context import Gateway
from gateway.errors import InputError, Issue, Location


def get_gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


async def read_body(request: Request) -> bytes:
    """The body, refused before it is all read when it is larger than `max_body_bytes`."""
    limit = get_gateway(request).settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise _too_large(limit, declared)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, str(size))
        chunks.append(chunk)
    return b"".join(chunks)


async def json_response(content: Callable[[], Any], status_code: int = 200) -> Response:
    """A JSON response built (`content()`) and rendered off the event loop: a report of thousands of prescriptions
    takes a while."""
    body = await offload(_render_json, content)
    return Response(body, status_code=status_code, media_type="application/json")


def _render_json(content: Callable[[], Any]) -> bytes:
    return json.dumps(content(), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _too_large(limit: int, seen: str) -> InputError:
    return InputError(
        [
            Issue(
                code="PAYLOAD_TOO_LARGE",
                message="the request body is too large",
                location=Location(path="body"),
                value=f"{seen} bytes",
                expected=f"at most {limit} bytes",
            )
        ]
    )
