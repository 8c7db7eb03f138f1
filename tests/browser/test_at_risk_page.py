"""The "At risk" page in Debian's chromium: linked from every page, the worklist by days left with its colour
bands, and the table refreshing itself when a patient enters the list. Screenshots kept as artefacts."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from adapters.jac.writer import render_export
from conformance.parties.exports import export_rows
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.intake.ingest import ingest_export
from gateway.operations import operators
from tests.browser.conftest import PASSWORD, Site

pytestmark = pytest.mark.browser


async def test_at_risk_worklist_and_live_refresh(site: Site) -> None:
    page = await site.login("vera")  # a viewer: NHS numbers masked
    await page.click("#nav-at-risk")
    await expect(page.locator("h1")).to_have_text("Patients at risk of a missed dose")
    rows = page.locator("#risk-table tbody tr")
    # The four seeded orders were never acknowledged and ask for no first delivery date: needed today.
    await expect(rows).to_have_count(4)
    await expect(rows.first.locator("td.days")).to_have_text("0")
    await expect(rows.first).to_have_class("risk-urgent")
    await expect(page.locator("#risk-table")).to_contain_text("order-not-acknowledged")
    assert "•••" in await rows.first.inner_text()
    await site.shot(page, "at-risk-01-worklist")

    await page.goto("/console/at-risk?live=1")
    await expect(rows).to_have_count(4)
    trust = Principal("browser-trust", Role.TRUST, "RBA", frozenset(ROLE_SCOPES[Role.TRUST]))
    report = await ingest_export(site.gw, trust, render_export(export_rows(1, seed=77)), "text/csv")
    assert report.prescriptions[0].outcome == "accepted"
    await expect(rows).to_have_count(5, timeout=15_000)  # refreshed by live.js, without a reload
    await expect(page.locator("#risk-live")).to_have_attribute("data-refreshed", re.compile(r"^\d{4}-\d\d-\d\dT"))
    await site.shot(page, "at-risk-02-refreshed")


async def test_a_trust_user_sees_its_own_worklist_and_not_the_operations(site: Site) -> None:
    await operators.add_operator(
        site.gw, username="rba-nurse", role="viewer", password=PASSWORD, organisation="RBA", organisation_kind="trust"
    )
    await operators.add_operator(
        site.gw, username="rhm-nurse", role="viewer", password=PASSWORD, organisation="RHM", organisation_kind="trust"
    )
    page = await site.login("rba-nurse")
    await expect(page).to_have_url(re.compile(r"/console/at-risk$"))  # the worklist is their home page
    await expect(page.locator("#whoami")).to_contain_text("trust RBA")
    await expect(page.locator("#nav-messages")).to_have_count(0)
    await expect(page.locator("#nav-overview")).to_have_count(0)
    rows = page.locator("#risk-table tbody tr")
    await expect(rows).to_have_count(4)
    nhs = site.seeded.rows[0]["NHSNumber"]
    await expect(page.locator("#risk-table")).to_contain_text(f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}")
    await site.shot(page, "at-risk-03-trust-user")
    await page.goto("/console/messages")
    await expect(page.locator("h1")).to_have_text("Not allowed")

    other = await site.login("rhm-nurse")
    await expect(other.locator("#risk-none")).to_be_visible()  # another trust's patients are not theirs
    await site.shot(other, "at-risk-04-other-trust-user")
