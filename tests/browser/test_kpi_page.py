"""The KPI page in Debian's chromium: linked from the console, the month's table and six SVG charts (no script),
and the filters. Screenshots kept as artefacts."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import Site

pytestmark = pytest.mark.browser


async def test_kpi_page_table_charts_and_filters(site: Site) -> None:
    page = await site.login("vera")  # a viewer: the KPIs hold no patient data
    await page.click("#nav-kpis")
    await expect(page.locator("h1")).to_have_text("National homecare KPIs")
    everyone = page.locator('#kpi-table tr[data-provider="All providers"]')
    await expect(everyone.locator("td").nth(1)).to_have_text("4")  # the four seeded orders this month
    await expect(page.locator('#kpi-table tr[data-provider="VNFKT"]')).to_be_visible()
    charts = page.locator("svg.kpi-chart")
    await expect(charts).to_have_count(6)
    assert await page.locator("script").count() == 0
    box = await charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100  # drawn, not just present
    await site.shot(page, "kpis-01-month")

    await page.fill("#kpi-provider", "VNCEL")
    await page.fill("#kpi-months", "3")
    await page.click("#kpi-apply")
    await expect(page.locator("#kpi-provider")).to_have_value("VNCEL")
    assert "provider=VNCEL" in page.url and "months=3" in page.url
    await expect(page.locator("#kpi-table tbody tr")).to_have_count(1)  # VNCEL has nothing yet: the whole only
    await expect(everyone.locator("td").nth(1)).to_have_text("0")
    await site.shot(page, "kpis-02-filtered")
