"""The national homecare KPIs of a month: JSON, CSV or a FHIR Bundle of MeasureReports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway
from gateway.budget import offload
from gateway.context import Gateway
from gateway.kpis.monthly import (
    DEFAULT_ACK_TARGET_HOURS,
    DEFAULT_HORIZON_DAYS,
    Options,
    build_report,
    parse_ods,
    parse_period,
)
from gateway.kpis.report_formats import kpi_format
from gateway.limits import parse_int

router = APIRouter(prefix="/api/v1", tags=["kpis"])


@router.get("/kpis", summary="The homecare KPIs of a month, per provider and trust (docs/kpis.md)")
async def get_kpis(
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    period: Annotated[str | None, Query(description="YYYY-MM, a UK calendar month (default: this month)")] = None,
    provider: Annotated[str | None, Query(description="only this provider (ODS code)")] = None,
    trust: Annotated[str | None, Query(description="only this trust (ODS code)")] = None,
    format: Annotated[str | None, Query(description="json (default), csv or fhir")] = None,
    ack_target_hours: Annotated[
        str | None, Query(description=f"acknowledgement target, 1 to 720 hours (default {DEFAULT_ACK_TARGET_HOURS})")
    ] = None,
    horizon_days: Annotated[
        str | None, Query(description=f"at-risk horizon, 1 to 90 days (default {DEFAULT_HORIZON_DAYS})")
    ] = None,
) -> Response:
    chosen = kpi_format(format)
    options = Options(
        ack_target_hours=parse_int(ack_target_hours, "ack_target_hours", DEFAULT_ACK_TARGET_HOURS, 1, 720),
        horizon_days=parse_int(horizon_days, "horizon_days", DEFAULT_HORIZON_DAYS, 1, 90),
    )
    report = await build_report(
        gw,
        principal,
        period=parse_period(period, gw.clock()),
        provider_ods=parse_ods(provider, "provider"),
        trust_ods=parse_ods(trust, "trust"),
        options=options,
    )
    return Response(await offload(chosen.render, report), media_type=chosen.media_type)
