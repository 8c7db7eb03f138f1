"""The trust's status feed: lifecycle events since a cursor, as JSON, a JAC-style CSV or another registered format."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway
from gateway.context import Gateway
from gateway.lifecycle.status_feed import parse_limit, status_feed
from gateway.lifecycle.status_formats import status_format

router = APIRouter(prefix="/api/v1", tags=["trust"])


@router.get("/status-feed", summary="The calling trust's status changes since a cursor")
async def get_status_feed(
    request: Request,
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    format: Annotated[str | None, Query(description="json (default), csv, or another registered format")] = None,
    since: Annotated[str | None, Query(description="the previous page's next_cursor; none: the beginning")] = None,
    limit: Annotated[str | None, Query(description="events per page, 1 to 1000 (default 200)")] = None,
) -> Response:
    chosen = status_format(format)
    size = parse_limit(limit)
    page = await status_feed(gw, principal, since=since, limit=size)
    query = {"format": chosen.name, "limit": str(size), "since": page.next_cursor}
    headers = {
        "X-Next-Cursor": page.next_cursor,
        "X-Has-More": "true" if page.has_more else "false",
        "Link": f'<{request.url.path}?{urlencode(query)}>; rel="next"',
    }
    return Response(chosen.render(page), media_type=chosen.media_type, headers=headers)
