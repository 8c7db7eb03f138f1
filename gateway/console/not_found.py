"""Any other `/console/...` address: an HTML 404 page in plain words, never a JSON error. Mounted last."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

router = APIRouter(tags=["console"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))


@router.get("/console/{rest:path}", response_class=HTMLResponse)
async def unknown_page(request: Request, rest: str) -> HTMLResponse:
    values: dict[str, object] = {
        "me": None,
        "status": 404,
        "issues": [],
        "error": "There is no such page in the console.",
    }
    return templates.TemplateResponse(request, "error.html", values, status_code=404)
