"""The FHIR R4 endpoints providers (and later trusts) use: $process-message (alone or in a batch), Task/$release,
Task."""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway, read_body
from gateway.api.errors import error_issues, error_status
from gateway.api.fhir_outcomes import operation_outcome, release_parameters_json, success_outcome
from gateway.api.fhir_response import FHIR_JSON, FhirJSONResponse
from gateway.api.idempotency import Idempotency
from gateway.api.prefer import prefer_wait
from gateway.budget import offload_sized
from gateway.context import Gateway
from gateway.delivery import release
from gateway.dispatch import provider_tasks
from gateway.dispatch.message_batch import process_batch
from gateway.dispatch.process_message import MessageResult, process_message
from gateway.errors import GatewayError
from gateway.fhir.inbound import read_release_parameters
from gateway.fhir.serialise import loads_bundle
from gateway.limits import load_json

router = APIRouter(prefix="/FHIR/R4", tags=["fhir"])


async def _json(raw: bytes) -> object:
    """The body as bounded JSON (gateway/limits.py), parsed off the event loop."""
    return await offload_sized(len(raw), load_json, raw)


@router.post("/$process-message", summary="Acknowledgements (response messages) and dispense notifications")
async def post_process_message(
    body: Annotated[bytes, Depends(read_body)],
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Response:
    async def answer() -> Response:
        return FhirJSONResponse(success_outcome(_result_text(await process_message(gw, principal, body))))

    return await idem.run(answer)


def _result_text(result: MessageResult) -> str:
    text = f"{result.kind} {result.message_id} " + ("applied" if result.applied else "already applied")
    return f"{text} ({result.detail})" if result.detail else text


@router.post("", summary="FHIR batch: many $process-message requests (acknowledgements) in one, each answered")
async def post_batch(
    body: Annotated[bytes, Depends(read_body)],
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Response:
    async def answer() -> Response:
        # Decimals kept exactly (a message other than an acknowledgement is re-written to run on its own).
        results = await process_batch(gw, principal, await offload_sized(len(body), loads_bundle, body))
        return FhirJSONResponse(_batch_response(results))

    return await idem.run(answer)


def _batch_response(results: list[MessageResult | GatewayError]) -> dict[str, Any]:
    """A batch-response Bundle: one entry per request, in order, each with its own status and OperationOutcome."""
    entries = []
    for result in results:
        if isinstance(result, GatewayError):
            status, outcome = error_status(result), operation_outcome(error_issues(result))
        else:
            status, outcome = 200, success_outcome(_result_text(result))
        entries.append({"response": {"status": f"{status} {HTTPStatus(status).phrase}", "outcome": outcome}})
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "batch-response", "entry": entries}


@router.post("/Task/$release", summary="Lease the provider's waiting orders (EPS release); optional long-poll")
async def post_release(
    request: Request,
    body: Annotated[bytes, Depends(read_body)],
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Response:
    async def answer() -> Response:
        req = read_release_parameters(await _json(body))
        wait = req.wait if req.wait is not None else prefer_wait(request.headers.getlist("prefer"))
        result = await release.release_orders(
            gw,
            principal,
            owner_ods=req.owner_ods,
            short_form_id=req.short_form_id,
            max_count=req.max_count,
            wait_seconds=wait or 0,
        )
        orders = [(o.bundle_id, o.body) for o in result.orders]
        return Response(release_parameters_json(orders, result.lease_expires_at, gw.clock()), media_type=FHIR_JSON)

    return await idem.run(answer)


@router.post("/Task", summary="Delivery status Tasks (scheduled, dispatched, delivered, failed, returned)")
async def post_task(
    body: Annotated[bytes, Depends(read_body)],
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Response:
    async def answer() -> Response:
        result = await provider_tasks.process_task(gw, principal, await _json(body))
        return FhirJSONResponse(success_outcome(result.text), status_code=result.status_code)

    return await idem.run(answer)
