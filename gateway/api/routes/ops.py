"""The JSON operator API: the console's operations for OAuth clients of role operator (docs/console.md).

The same service functions as the console (gateway.operations.overview); patient data is always masked here.
An NHS number search is a POST (`/messages/search`), so that the number never sits in a URL or an access log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway, read_body
from gateway.api.json_body import StrictBody, body_doc, parse_body
from gateway.context import Gateway
from gateway.errors import InputError, Issue, Location
from gateway.operations import message_view
from gateway.operations import overview as operations

router = APIRouter(prefix="/api/v1/ops", tags=["operator"])
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
Body = Annotated[bytes, Depends(read_body)]


class Search(StrictBody):
    date_from: str | None = Field(default=None, description="ISO 8601 time: messages created at or after")
    date_to: str | None = Field(default=None, description="ISO 8601 time: messages created before")
    state: str | None = Field(default=None, max_length=16)
    provider: str | None = Field(default=None, max_length=12)
    trust: str | None = Field(default=None, max_length=12)
    prescription_id: str | None = Field(default=None, max_length=40, description="long-form, short-form or message id")
    nhs_number: str | None = Field(default=None, max_length=14, description="looked up through the blind index")
    error_class: str | None = Field(default=None, max_length=24)
    page: int = Field(default=1, ge=1, le=100_000)
    page_size: Literal[25, 50, 100] = 50


class Replay(StrictBody):
    message_id: str | None = Field(default=None, max_length=36, description="one message; else the filters")
    state: Literal["dead", "rejected"] = "dead"
    provider: str | None = Field(default=None, max_length=12)
    since: str | None = Field(default=None, description="ISO 8601: only messages that failed at or after")
    dry_run: bool = Field(default=True, description="preview only (the default); false replays")


def _time(value: str | None, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        issue = Issue(
            "INVALID_VALUE",
            "not an ISO 8601 time",
            Location(column=field),
            value=value[:40],
            expected="e.g. 2026-11-22T09:00:00+00:00",
        )
        raise InputError([issue]) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: str | None, field: str, default: int) -> int:
    if value is None:
        return default
    if not (value.isdigit() and len(value) <= 6):
        raise InputError([Issue("INVALID_VALUE", "not a whole number", Location(column=field), value=value[:20])])
    return int(value)


@router.get("/overview", summary="Messages per provider and per trust, rates, oldest waiting, provider health")
async def get_overview(gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return await operations.overview(gw, principal)


@router.get("/messages", summary="Browse messages (newest first); NHS number searches use POST /messages/search")
async def get_messages(
    gw: GatewayDep,
    principal: CurrentPrincipal,
    date_from: Annotated[str | None, Query(description="ISO 8601: created at or after")] = None,
    date_to: Annotated[str | None, Query(description="ISO 8601: created before")] = None,
    state: Annotated[str | None, Query(description="queued, leased, acknowledged, rejected, cancelled, dead…")] = None,
    provider: Annotated[str | None, Query(description="provider ODS code")] = None,
    trust: Annotated[str | None, Query(description="trust ODS code")] = None,
    prescription_id: Annotated[str | None, Query(description="long-form, short-form or message id")] = None,
    error_class: Annotated[str | None, Query(description="a delivery attempt outcome, e.g. timeout")] = None,
    page: Annotated[str | None, Query(description="from 1")] = None,
    page_size: Annotated[str | None, Query(description="25, 50 or 100")] = None,
) -> dict[str, Any]:
    query = operations.BrowseQuery(
        date_from=_time(date_from, "date_from"),
        date_to=_time(date_to, "date_to"),
        state=state,
        provider_ods=provider,
        trust_ods=trust,
        prescription_id=prescription_id,
        error_class=error_class,
        page=_int(page, "page", 1),
        page_size=_int(page_size, "page_size", 50),
    )
    return await operations.browse(gw, principal, query)


@router.post(
    "/messages/search", summary="Browse messages by any filter, NHS number included", openapi_extra=body_doc(Search)
)
async def search_messages(gw: GatewayDep, principal: CurrentPrincipal, body: Body) -> dict[str, Any]:
    s = parse_body(body, Search)
    query = operations.BrowseQuery(
        date_from=_time(s.date_from, "date_from"),
        date_to=_time(s.date_to, "date_to"),
        state=s.state,
        provider_ods=s.provider,
        trust_ods=s.trust,
        prescription_id=s.prescription_id,
        nhs_number=s.nhs_number,
        error_class=s.error_class,
        page=s.page,
        page_size=s.page_size,
    )
    result = await operations.browse(gw, principal, query)
    result.pop("nhs_index", None)
    return result


@router.get("/messages/{message_id}", summary="A message: raw input, FHIR bundle, attempts, timeline (masked)")
async def get_message(message_id: str, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return await message_view.message_detail(gw, principal, message_id)


@router.post(
    "/replay", summary="Replay one message or a filtered set; dry_run previews", openapi_extra=body_doc(Replay)
)
async def post_replay(gw: GatewayDep, principal: CurrentPrincipal, body: Body) -> dict[str, Any]:
    r = parse_body(body, Replay)
    return await operations.replay(
        gw,
        principal,
        message_id=r.message_id,
        state=r.state,
        provider_ods=r.provider,
        since=_time(r.since, "since"),
        dry_run=r.dry_run,
    )


@router.post("/providers/{ods}/pause", summary="Hold push delivery to a provider")
async def pause_provider(ods: str, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return await operations.set_paused(gw, principal, ods, True)


@router.post("/providers/{ods}/resume", summary="Resume push delivery to a provider")
async def resume_provider(ods: str, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return await operations.set_paused(gw, principal, ods, False)


@router.post("/messages/{message_id}/dismiss", summary="Set a dead-lettered message aside")
async def dismiss_message(message_id: str, gw: GatewayDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return await operations.dismiss_dead_letter(gw, principal, message_id)
