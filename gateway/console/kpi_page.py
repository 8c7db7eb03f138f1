"""The console's KPI page, `/console/kpis`: the national homecare KPIs of a month per provider, and SVG charts of
the months before (gateway/console/charts.py). Any signed-in console role may see it: the KPIs are counts and
times, with no patient data. The same figures are served to API clients by `GET /api/v1/kpis`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from gateway.api.deps import get_gateway
from gateway.console.charts import kpi_chart
from gateway.console.pages import _context, _guarded
from gateway.context import Gateway
from gateway.kpis import catalog as cat
from gateway.kpis.monthly import Cell, KpiReport, build_reports, parse_ods, parse_period
from gateway.kpis.scores import GroupValue
from gateway.limits import parse_int
from gateway.operations.operators import ConsoleSession

router = APIRouter(tags=["console"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))

# (measure, group, chart title, unit) drawn per provider over the months.
CHARTS = (
    ("hgw-kpi-acknowledgement-within-target", "within-target", "Acknowledged within target", "%"),
    ("hgw-kpi-acknowledgement-time", "median", "Median hours to acknowledgement", "h"),
    ("hgw-kpi-first-delivery-time", "median", "Median days, new patient to first delivery", "d"),
    ("hgw-kpi-on-time-delivery", "on-agreed-date", "Deliveries made on the agreed date", "%"),
    ("hgw-kpi-failed-deliveries", "all", "Failed deliveries per 100 outcomes", "%"),
    ("hgw-kpi-cancellations", "cancellations", "Cancellations per 100 prescriptions", "%"),
)
# (heading, measure, group, what to show: a population code or "score")
COLUMNS = (
    ("orders", "hgw-kpi-acknowledgement-time", "median", "initial-population"),
    ("ack median h", "hgw-kpi-acknowledgement-time", "median", "score"),
    ("ack p90 h", "hgw-kpi-acknowledgement-time", "p90", "score"),
    ("ack within target %", "hgw-kpi-acknowledgement-within-target", "within-target", "score"),
    ("first delivery median d", "hgw-kpi-first-delivery-time", "median", "score"),
    ("new patients waiting", "hgw-kpi-new-patients-waiting", "waiting", "initial-population"),
    ("on agreed date %", "hgw-kpi-on-time-delivery", "on-agreed-date", "score"),
    ("failed %", "hgw-kpi-failed-deliveries", "all", "score"),
    ("patients at risk", "hgw-kpi-patients-at-risk", "at-risk", "initial-population"),
    ("prescriptions at risk", "hgw-kpi-prescriptions-at-risk", "at-risk", "initial-population"),
    ("cancellations /100", "hgw-kpi-cancellations", "cancellations", "score"),
    ("returns /100", "hgw-kpi-returns", "returns", "score"),
    ("clinical queries /100", "hgw-kpi-clinical-queries", "clinical-queries", "score"),
)
Gw = Annotated[Gateway, Depends(get_gateway)]


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    values: list[str]


def _shown(cell: Cell, measure: str, group: str, what: str) -> str:
    value: GroupValue | None = cell.measures.get(measure, {}).get(group)
    if value is None:
        return "—"
    if what == "score":
        return "—" if value.score is None else str(value.score)
    return str(value.populations.get(what, 0))


def _rows(report: KpiReport) -> list[Row]:
    ordered = sorted(report.cells, key=lambda c: (c.level != "all", c.provider_ods))
    return [
        Row("All providers" if c.level == "all" else c.provider_ods, [_shown(c, *col[1:]) for col in COLUMNS])
        for c in ordered
        if c.level in ("all", "provider")
    ]


@router.get("/console/kpis", response_class=HTMLResponse)
async def kpi_page(request: Request, gw: Gw) -> Response:
    q = request.query_params

    async def handler(s: ConsoleSession) -> Response:
        last = parse_period(q.get("period"), gw.clock())
        months = parse_int(q.get("months"), "months", 6, 1, 24)
        provider, trust = parse_ods(q.get("provider"), "provider"), parse_ods(q.get("trust"), "trust")
        # A console operator sees every provider and trust, given the view permission (checked by visible_scope).
        reports = await build_reports(gw, s.actor, last=last, months=months, provider_ods=provider, trust_ods=trust)
        charts = [
            # The SVG escapes every label itself (charts.line_chart), so it is inlined as it is.
            Markup(kpi_chart(reports, measure, group, title, unit=unit))  # noqa: S704
            for measure, group, title, unit in CHARTS
        ]
        current = reports[-1]
        values = {
            "period": current.period.label,
            "first": reports[0].period.label,
            "months": months,
            "provider": provider or "",
            "trust": trust or "",
            "as_of": current.as_of,
            "ack_target": current.options.ack_target_hours,
            "horizon": current.options.horizon_days,
            "headings": [c[0] for c in COLUMNS],
            "rows": _rows(current),
            "charts": charts,
            "measures": cat.MEASURES,
        }
        return templates.TemplateResponse(request, "kpis.html", _context(request, s, **values))

    return await _guarded(request, gw, handler)
