"""The console's KPI page over a real loopback server, on SQLite and PostgreSQL: a signed-in operator sees the
month's KPIs per provider and inline SVG charts; without a session it is the login page; bad filters are refused."""

from __future__ import annotations

import re

import httpx

from gateway.context import Gateway
from gateway.operations import operators
from tests.conftest import serve
from tests.integration.test_kpis import build_history

PASSWORD = "kpi-page-test-password-1"  # noqa: S105 - a test operator


async def test_kpi_page_shows_the_month_and_charts(gw: Gateway) -> None:
    await build_history(gw)  # the clock stays at 2026-10-20 12:00Z
    await operators.add_operator(gw, username="viewer1", role="viewer", password=PASSWORD)
    session = await operators.login(gw, "viewer1", PASSWORD)
    async with serve(gw) as url:
        async with httpx.AsyncClient(base_url=url) as anon:
            r = await anon.get("/console/kpis")
            assert r.status_code == 303 and r.headers["location"] == "/console/login"
        async with httpx.AsyncClient(base_url=url, cookies={"hgw_session": session.token}) as browser:
            r = await browser.get("/console/kpis", params={"period": "2026-10", "months": "2"})
            assert r.status_code == 200, r.text
            page = r.text
            assert 'id="nav-kpis"' in page  # the console links the page once it exists
            rows = dict(re.findall(r'<tr data-provider="([^"]+)"><td>[^<]*</td>(.*?)</tr>', page))
            assert set(rows) == {"All providers", "VNCEL", "VNFKT"}
            cells = re.findall(r"<td>([^<]*)</td>", rows["All providers"])
            # orders, ack median, ack p90, within target, first delivery, waiting, on date, failed, at risk …
            assert cells[:8] == ["5", "2.0", "24.0", "75.0", "—", "4", "100.0", "50.0"]
            assert cells[8:10] == ["2", "1"] and "as of 2026-10-20" in page
            assert page.count("<svg") == 6 and "2026-09" in page and "<script" not in page
            assert 'data-series="VNFKT"' in page and 'data-series="VNCEL"' in page

            r = await browser.get("/console/kpis", params={"period": "2026-13"})
            assert r.status_code == 400 and "calendar month" in r.text
            r = await browser.get("/console/kpis", params={"period": "2026-09", "provider": "VNCEL"})
            assert r.status_code == 200
            assert set(re.findall(r'<tr data-provider="([^"]+)">', r.text)) == {"All providers", "VNCEL"}
            assert "measured for the current month only" in r.text
