"""The EPS-style tracker and the requests providers raise with trusts, as FHIR Tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway, read_body
from gateway.api.fhir_response import FhirJSONResponse
from gateway.budget import offload_sized
from gateway.context import Gateway
from gateway.lifecycle import clinical_queries as queries
from gateway.lifecycle import tracker
from gateway.limits import load_json

router = APIRouter(prefix="/FHIR/R4", tags=["fhir"])


@router.get("/Task", summary="Prescription tracker: the Tasks of the prescription focus:identifier names")
async def search_tasks(
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    focus_identifier: Annotated[
        str | None, Query(alias="focus:identifier", description="[system|]short-form or long-form id")
    ] = None,
) -> FhirJSONResponse:
    return FhirJSONResponse(await tracker.track(gw, principal, focus_identifier))


@router.get("/Task/{task_id}", summary="A request raised with the trust (clinical query, prescription due)")
async def read_task(
    task_id: str, gw: Annotated[Gateway, Depends(get_gateway)], principal: CurrentPrincipal
) -> FhirJSONResponse:
    return FhirJSONResponse(await queries.read_request_task(gw, principal, task_id))


@router.put("/Task/{task_id}", summary="The trust answers a request: status completed or rejected, output text")
async def answer_task(
    task_id: str,
    body: Annotated[bytes, Depends(read_body)],
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
) -> FhirJSONResponse:
    task = await offload_sized(len(body), load_json, body)
    return FhirJSONResponse(await queries.answer_request(gw, principal, task_id, task, body))
