"""Liveness and readiness."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from gateway.api.deps import get_gateway
from gateway.context import Gateway
from gateway.operations.health import database_ready, workers_ready

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. It says nothing about the database or the workers (see /readyz)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(gw: Annotated[Gateway, Depends(get_gateway)]) -> JSONResponse:
    """Readiness: 200 when the database and this process's workers are fine, else 503 naming what is not."""
    database = await database_ready(gw)
    workers = workers_ready(gw)
    ready = database is None and all(problem is None for problem in workers.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "database": database or "ok",
        "workers": {name: problem or "ok" for name, problem in workers.items()},
    }
    return JSONResponse(body, status_code=200 if ready else 503)
