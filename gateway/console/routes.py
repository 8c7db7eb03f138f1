"""Console pages. Patient data is never shown here: prescriptions appear by their ids only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from gateway import lifecycle
from gateway.api.deps import get_gateway
from gateway.services.context import Gateway
from gateway.services.overview import overview

router = APIRouter(tags=["console"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))


@router.get("/console", response_class=HTMLResponse)
async def console_overview(request: Request, gw: Annotated[Gateway, Depends(get_gateway)]) -> HTMLResponse:
    data = await overview(gw)
    return templates.TemplateResponse(request, "overview.html", {"o": data, "statuses": lifecycle.PRESCRIPTION_STATUS})
