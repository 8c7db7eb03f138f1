"""Spend per trust, provider, medicine or service and month: JSON, CSV or a FHIR Bundle of MeasureReports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway
from gateway.api.fhir_response import FhirJSONResponse
from gateway.context import Gateway
from gateway.invoicing.spend import render_csv, render_fhir, spend_format, spend_request

router = APIRouter(prefix="/api/v1", tags=["invoicing"])


@router.get("/spend", summary="Approved spend (and disputed, pending) per trust, provider, medicine and month")
async def get_spend(
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    month_from: Annotated[str | None, Query(alias="from", description="YYYY-MM (default: this month)")] = None,
    month_to: Annotated[str | None, Query(alias="to", description="YYYY-MM (default: from)")] = None,
    trust: Annotated[str | None, Query(max_length=12)] = None,
    provider: Annotated[str | None, Query(max_length=12)] = None,
    format: Annotated[str | None, Query(description="json (default), csv or fhir")] = None,
    publication: Annotated[bool, Query(description="merge small rows, for publishing")] = False,
) -> Response:
    chosen = spend_format(format)
    raw = {"from": month_from, "to": month_to, "trust": trust, "provider": provider}
    report = await spend_request(gw, principal, raw, publication=publication)
    if chosen == "csv":
        return Response(render_csv(report), media_type="text/csv")
    if chosen == "fhir":
        return FhirJSONResponse(render_fhir(report))
    return JSONResponse(report.as_json())
