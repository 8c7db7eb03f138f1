"""The console's "At risk" page, `/console/at-risk`: the patients whose medicine runs out before a confirmed
delivery, with the reasons, who must act and what to do, sorted by days left (docs/patient-safety.md). The same
worklist as `GET /api/v1/patients-at-risk`: a trust's or provider's staff see their own patients with NHS numbers,
the gateway's operators everyone, NHS numbers masked. The table refreshes
itself every minute with JavaScript (`live.js`); without it the page is a plain page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from gateway.api.deps import get_gateway
from gateway.console.pages import _context, _guarded
from gateway.context import Gateway
from gateway.domain.risk_reasons import REASONS
from gateway.limits import parse_int
from gateway.operations.operators import ConsoleSession
from gateway.safety.at_risk import parse_as_of, parse_days, worklist
from gateway.security.masking import MASK

router = APIRouter(tags=["console"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
Gw = Annotated[Gateway, Depends(get_gateway)]


def urgency(days_left: int) -> str:
    """The colour band of a row: overdue (the supply has run out), urgent (3 days or fewer), soon."""
    return "overdue" if days_left < 0 else "urgent" if days_left <= 3 else "soon"


@router.get("/console/at-risk", response_class=HTMLResponse)
async def at_risk_page(request: Request, gw: Gw) -> Response:
    q = request.query_params

    async def handler(s: ConsoleSession) -> Response:
        as_of = parse_as_of(q.get("as_of"), gw.clock())
        days = parse_days(q.get("days"))
        found = await worklist(gw, s.actor, as_of=as_of, days=days)
        rows = [
            {
                "row": r,
                "band": urgency(r.days_left),
                "reasons": [(code, REASONS[code].owner.value) for code in r.reasons],
                "nhs_number": found.patients.get(r.prescription_id, MASK),
            }
            for r in found.rows
        ]
        live = parse_int(q.get("live"), "live", 60, 1, 3600)  # seconds between refreshes
        values = {"as_of": as_of.isoformat(), "days": q.get("days") or "", "rows": rows, "live_seconds": live}
        return templates.TemplateResponse(request, "at_risk.html", _context(request, s, **values))

    return await _guarded(request, gw, handler)
