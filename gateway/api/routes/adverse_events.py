"""Missed and late doses: reported as FHIR AdverseEvents (docs/patient-safety.md), counted as KPIs (docs/kpis.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway, read_body
from gateway.api.fhir_outcomes import success_outcome
from gateway.api.fhir_response import FhirJSONResponse
from gateway.api.idempotency import Idempotency
from gateway.context import Gateway
from gateway.kpis.missed_dose_rates import missed_dose_report
from gateway.kpis.monthly import parse_period
from gateway.safety.at_risk import parse_as_of, parse_format
from gateway.safety.missed_doses import report_missed_dose

router = APIRouter(prefix="/FHIR/R4", tags=["fhir"])
kpi_router = APIRouter(prefix="/api/v1", tags=["kpis"])


@router.post("/AdverseEvent", summary="A missed or late dose, reported by the trust or the provider")
async def post_adverse_event(
    body: Annotated[bytes, Depends(read_body)],
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Response:
    async def answer() -> Response:
        r = await report_missed_dose(gw, principal, body)
        flagged = "flagged at risk beforehand" if r.flagged else "not flagged at risk beforehand"
        text = f"missed dose {r.id} for {r.short_form_id} " + ("recorded" if r.created else "was already recorded")
        return FhirJSONResponse(success_outcome(f"{text}; {flagged}"), status_code=201 if r.created else 200)

    return await idem.run(answer)


@kpi_router.get("/kpis/missed-doses", summary="Missed doses per 1,000 patient-months, by cause (docs/kpis.md)")
async def get_missed_dose_kpis(
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    period: Annotated[str | None, Query(description="YYYY-MM, a UK calendar month (default: this month)")] = None,
    as_of: Annotated[str | None, Query(description="YYYY-MM-DD: what was recorded by the end of that day")] = None,
    format: Annotated[str | None, Query(description="json (default) or csv")] = None,
) -> Response:
    chosen = parse_format(format)
    now = gw.clock()
    report = await missed_dose_report(gw, principal, period=parse_period(period, now), as_of=parse_as_of(as_of, now))
    if chosen == "csv":
        return Response(report.as_csv(), media_type="text/csv; charset=utf-8")
    return JSONResponse(report.as_json())
