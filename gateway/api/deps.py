"""Request plumbing shared by routes: the Gateway from app state and size-limited bodies."""

from __future__ import annotations

from fastapi import Request

from gateway.errors import InputError, Issue, Location
from gateway.services.context import Gateway


def get_gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


async def read_body(request: Request) -> bytes:
    """The body, refused before it is all read when it is larger than `max_body_bytes`."""
    limit = get_gateway(request).settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, declared)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, str(size))
        chunks.append(chunk)
    return b"".join(chunks)


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
