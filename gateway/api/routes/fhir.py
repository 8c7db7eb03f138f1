"""The FHIR R4 endpoints providers (and later trusts) use: $process-message, Task/$release, Task."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway, read_body
from gateway.api.fhir_response import FhirJSONResponse
from gateway.api.idempotency import Idempotency
from gateway.api.prefer import prefer_wait
from gateway.fhir.inbound import fail, read_release_parameters
from gateway.fhir.responses import release_parameters, success_outcome
from gateway.services import provider_tasks, release
from gateway.services.context import Gateway
from gateway.services.messages import process_message

router = APIRouter(prefix="/FHIR/R4", tags=["fhir"])


def _json(raw: bytes, what: str) -> object:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise fail(what, f"the body is not JSON: {exc}", code="INVALID_JSON") from exc


@router.post("/$process-message", summary="Acknowledgements (response messages) and dispense notifications")
async def post_process_message(
    body: Annotated[bytes, Depends(read_body)],
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Response:
    async def answer() -> Response:
        result = await process_message(gw, principal, body)
        text = f"{result.kind} {result.message_id} " + ("applied" if result.applied else "already applied")
        if result.detail:
            text += f" ({result.detail})"
        return FhirJSONResponse(success_outcome(text))

    return await idem.run(answer)


@router.post("/Task/$release", summary="Lease the provider's waiting orders (EPS release); optional long-poll")
async def post_release(
    request: Request,
    body: Annotated[bytes, Depends(read_body)],
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Response:
    async def answer() -> Response:
        req = read_release_parameters(_json(body, "Parameters"))
        wait = req.wait if req.wait is not None else prefer_wait(request.headers.getlist("prefer"))
        result = await release.release_orders(
            gw,
            principal,
            owner_ods=req.owner_ods,
            short_form_id=req.short_form_id,
            max_count=req.max_count,
            wait_seconds=wait or 0,
        )
        params = release_parameters([o.bundle for o in result.orders], result.lease_expires_at, gw.clock())
        return FhirJSONResponse(params)

    return await idem.run(answer)


@router.post("/Task", summary="Delivery status Tasks (scheduled, dispatched, delivered, failed, returned)")
async def post_task(
    body: Annotated[bytes, Depends(read_body)],
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Response:
    async def answer() -> Response:
        result = await provider_tasks.process_task(gw, principal, _json(body, "Task"))
        return FhirJSONResponse(success_outcome(result.text), status_code=result.status_code)

    return await idem.run(answer)
