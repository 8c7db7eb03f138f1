"""Trusts post their exports here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from fastapi.responses import Response

from gateway.api.auth import CurrentPrincipal
from gateway.api.deps import get_gateway, json_response, read_body
from gateway.api.idempotency import Idempotency
from gateway.budget import offload
from gateway.context import Gateway
from gateway.intake.hl7_answers import HL7_MEDIA_TYPE, ack_for
from gateway.intake.ingest import ingest_export

router = APIRouter(prefix="/api/v1", tags=["trust"])


@router.post("/exports", summary="Post a JAC CSV export; answers per prescription")
async def post_export(
    body: Annotated[bytes, Depends(read_body)],
    gw: Annotated[Gateway, Depends(get_gateway)],
    principal: CurrentPrincipal,
    idem: Idempotency,
    content_type: Annotated[str, Header()] = "application/octet-stream",
    accept: Annotated[str, Header()] = "application/json",
) -> Response:
    async def answer() -> Response:
        report = await ingest_export(gw, principal, body, content_type)
        status = 422 if report.outcome == "rejected" else 200
        if report.format == "hl7v2":
            ack = await offload(ack_for, gw, report)
            if HL7_MEDIA_TYPE in accept:
                return Response(ack, status_code=status, media_type=HL7_MEDIA_TYPE)
            return await json_response(lambda: report.as_dict() | {"hl7_ack": ack.decode("utf-8", "replace")}, status)
        if report.format == "unknown" and any(i.code == "UNSUPPORTED_MEDIA_TYPE" for i in report.file_issues):
            status = 415
        return await json_response(report.as_dict, status)

    return await idem.run(answer)
