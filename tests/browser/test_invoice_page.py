"""The invoices page in Debian's chromium: linked from the console, an invoice with its results, the lines that did
not match, the spend chart (no script), and the status filter. Screenshots kept as artefacts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from playwright.async_api import expect

from gateway.domain.identifiers import new_short_form_id
from gateway.simulate import invoices as bill
from gateway.simulate.parties import party_client, register_party
from tests.browser.conftest import Site

pytestmark = pytest.mark.browser


async def test_invoice_page_lists_results_and_spend(site: Site) -> None:
    key = await register_party(site.gw, "provider", "VNFKT")
    lines = [
        bill.Bill(new_short_form_id("A99968", n), None, 1, "medicine", "15517911000001104", Decimal(2), 12_500)
        for n in range(3)
    ]
    async with party_client(site.url, key) as provider:
        body = bill.csv_invoice("INV-B1", date(2026, 12, 20), "RBA", lines)
        r = await provider.post("/api/v1/invoices", content=body, headers={"Content-Type": "text/csv"})
        assert r.status_code == 201, r.text

    page = await site.login("vera")  # a viewer: invoices hold no patient data
    await page.click("#nav-invoices")
    await expect(page.locator("h1")).to_have_text("Invoices and spend")
    await expect(page.locator("#invoice-table tbody tr")).to_have_count(1)
    await expect(page.locator("#invoice-table tbody tr td").nth(7)).to_have_text("3 unknown-prescription")
    await expect(page.locator("#discrepancy-table tr.result-unknown-prescription")).to_have_count(3)
    chart = page.locator("svg.kpi-chart")
    await expect(chart).to_have_count(1)
    assert await page.locator("script").count() == 0
    await site.shot(page, "invoices-01-list")

    await page.select_option("#invoice-status", "approved")
    await page.click("#invoice-apply")
    assert "status=approved" in page.url
    await expect(page.locator("#invoice-table tbody tr")).to_have_text("No invoices.")
    await site.shot(page, "invoices-02-filtered")
