"""The console's invoicing page, `/console/invoices`: invoices with their reconciliation results, the lines that
did not match, and spend per provider over the months as a chart. Any signed-in console role may see it: invoices
hold no patient data (a line names a prescription by its short-form id). The trust decides through the API."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from gateway.api.deps import get_gateway
from gateway.console.charts import line_chart
from gateway.console.pages import _context, _guarded
from gateway.context import Gateway
from gateway.invoicing.spend import SpendReport, build_spend, parse_month
from gateway.invoicing.views import STATUSES, list_invoices
from gateway.operations.operators import ConsoleSession

router = APIRouter(tags=["console"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
Gw = Annotated[Gateway, Depends(get_gateway)]


def _months(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:])
    out: list[str] = []
    while f"{year:04d}-{month:02d}" <= last and len(out) < 36:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def spend_chart(report: SpendReport) -> str:
    """Approved spend (£, net + VAT) per provider and month, as an SVG line chart."""
    months = _months(report.month_from, report.month_to)
    totals: dict[str, dict[str, int]] = {}
    for row in report.rows:
        by_month = totals.setdefault(row.provider, {})
        by_month[row.month] = by_month.get(row.month, 0) + row.net_pence + row.vat_pence
    series = {p: [by_month.get(m, 0) / 100 for m in months] for p, by_month in sorted(totals.items())}
    return line_chart("Approved spend per provider", months, series, unit="£")


def _summary(invoice: dict[str, Any]) -> str:
    counts = Counter(line["result"] for line in invoice["lines"])
    return ", ".join(f"{n} {result}" for result, n in sorted(counts.items()))


@router.get("/console/invoices", response_class=HTMLResponse)
async def invoice_page(request: Request, gw: Gw) -> Response:
    q = request.query_params

    async def handler(s: ConsoleSession) -> Response:
        last = parse_month(q.get("to"), "to", gw.clock().strftime("%Y-%m"))
        first = parse_month(q.get("from"), "from", _months_back(last, 5))
        status = q.get("status") or None
        invoices = await list_invoices(gw, None, status=status, limit=200)
        report = await build_spend(gw, None, month_from=first, month_to=last)
        discrepancies = [
            {"invoice": i["reference"], "provider": i["provider"], **line}
            for i in invoices
            for line in i["lines"]
            if line["result"] != "matched"
        ]
        values = {
            "first": first,
            "last": last,
            "status": status or "",
            "statuses": STATUSES,
            "invoices": [{**i, "summary": _summary(i)} for i in invoices],
            "discrepancies": discrepancies[:500],
            "spend": [r.as_json() for r in report.rows],
            "totals": report.totals(),
            # The SVG escapes every label itself (charts.line_chart), so it is inlined as it is.
            "chart": Markup(spend_chart(report)),  # noqa: S704
        }
        return templates.TemplateResponse(request, "invoices.html", _context(request, s, **values))

    return await _guarded(request, gw, handler)


def _months_back(month: str, n: int) -> str:
    year, mon = int(month[:4]), int(month[5:]) - n
    while mon < 1:
        year, mon = year - 1, mon + 12
    return f"{year:04d}-{mon:02d}"
