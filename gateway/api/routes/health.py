"""Liveness and readiness."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from gateway.api.deps import get_gateway
from gateway.services.context import Gateway
from gateway.services.health import database_ready

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(gw: Annotated[Gateway, Depends(get_gateway)]) -> JSONResponse:
    problem = await database_ready(gw)
    if problem:
        return JSONResponse({"status": "unavailable", "database": problem}, status_code=503)
    return JSONResponse({"status": "ready", "database": "ok"})
