"""`GET /metrics`: the Prometheus exposition, for the scrape token or an operator (docs/observability.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.api.auth import bearer_token
from gateway.api.deps import get_gateway
from gateway.context import Gateway
from gateway.observability.http import HttpMetricsMiddleware
from gateway.operations.metrics_access import scrape

router = APIRouter(tags=["ops"])


@router.get("/metrics", responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
async def metrics(request: Request, gw: Annotated[Gateway, Depends(get_gateway)]) -> Response:
    body = await scrape(gw, bearer_token(request))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def install_observability(app: FastAPI, gw: Gateway) -> None:
    """The request-timing middleware and the /metrics route."""
    app.add_middleware(HttpMetricsMiddleware, metrics=gw.telemetry.metrics)
    app.include_router(router)
