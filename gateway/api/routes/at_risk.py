"""Patients at risk of a missed dose: the worklist (docs/patient-safety.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway
from gateway.context import Gateway
from gateway.safety.at_risk import parse_as_of, parse_days, parse_format, worklist

router = APIRouter(prefix="/api/v1", tags=["patient-safety"])


@router.get("/patients-at-risk", summary="Patients whose medicine runs out before a confirmed delivery, and why")
async def get_patients_at_risk(
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    format: Annotated[str | None, Query(description="json (default) or csv")] = None,
    as_of: Annotated[str | None, Query(description="YYYY-MM-DD, the UK day measured (default: today)")] = None,
    days: Annotated[str | None, Query(description="threshold, 1 to 90 days (default: per service type)")] = None,
    unmask: Annotated[str | None, Query(description="operators: the reason to show NHS numbers (audited)")] = None,
) -> Response:
    chosen = parse_format(format)
    found = await worklist(
        gw, principal, as_of=parse_as_of(as_of, gw.clock()), days=parse_days(days), unmask_reason=unmask
    )
    if chosen == "csv":
        return Response(found.as_csv(), media_type="text/csv; charset=utf-8")
    return JSONResponse(found.as_json())
