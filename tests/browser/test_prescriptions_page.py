"""The Prescriptions pages in Debian's chromium (One portal, issue 18): a trust's pharmacist opens their trust's
prescriptions and one prescription's timeline; another trust's pharmacist sees none of them, and the timeline's
address answers "Not found". Screenshots kept as artefacts."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from playwright.async_api import expect

from conformance.parties import provider_messages as msg
from gateway.delivery.release import release_orders
from gateway.dispatch.process_message import process_message
from gateway.dispatch.provider_tasks import process_task
from gateway.domain.principal import ROLE_SCOPES, Principal, Role
from gateway.operations import operators
from tests.browser.conftest import PASSWORD, Site

pytestmark = pytest.mark.browser


async def test_a_trust_user_opens_its_prescriptions_and_a_timeline(site: Site) -> None:
    gw = site.gw
    for username, trust in (("rba-pharmacist", "RBA"), ("rhm-pharmacist", "RHM")):
        await operators.add_operator(
            gw, username=username, role="viewer", password=PASSWORD, organisation=trust, organisation_kind="trust"
        )
    # The provider takes one of the seeded orders, accepts it and books its first delivery.
    vnfkt = Principal("browser-provider", Role.PROVIDER, "VNFKT", frozenset(ROLE_SCOPES[Role.PROVIDER]))
    released = await release_orders(gw, vnfkt, max_count=1)
    facts = msg.order_facts(released.orders[0].bundle)
    sid = facts["short_form_id"]
    await process_message(gw, vnfkt, json.dumps(msg.acknowledgement("VNFKT", facts["message_id"], "x")).encode())
    booked = (gw.clock() + timedelta(days=3)).date()
    await process_task(gw, vnfkt, msg.delivery_task("VNFKT", facts, 1, "scheduled", scheduled=booked))

    page = await site.login("rba-pharmacist")
    await page.click("#nav-prescriptions")
    await expect(page.locator("h1")).to_have_text("Prescriptions")
    rows = page.locator("#prescription-table tbody tr")
    await expect(rows).to_have_count(4)  # the four RBA prescriptions seeded, all with VNFKT
    nhs = facts["nhs_number"]
    await expect(page.locator(f'tr[data-prescription="{sid}"]')).to_contain_text(f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}")
    await expect(page.locator(f'tr[data-prescription="{sid}"]')).to_contain_text("With Dispenser")
    assert await page.locator("script").count() == 0  # plain HTML
    await site.shot(page, "prescriptions-01-trust-list")

    await page.click(f'a.prescription-link:text-is("{sid}")')
    await expect(page).to_have_url(re.compile(rf"/console/prescriptions/{sid}$"))
    await expect(page.locator("#prescription-id")).to_have_text(sid)
    timeline = page.locator("#timeline")
    steps = ("Received from the trust", "Collected by the provider", "Accepted by the provider", "Delivery booked")
    for words in steps:
        await expect(timeline).to_contain_text(words)
    await expect(page.locator('#deliveries tr[data-delivery="1"]')).to_contain_text(booked.isoformat())
    await expect(timeline).not_to_contain_text("lease")  # the gateway's workings are its operators' only
    await expect(page.locator("#messages")).to_have_count(0)  # the gateway's messages are its operators' only
    await site.shot(page, "prescriptions-02-trust-timeline")

    other = await site.login("rhm-pharmacist")
    await other.click("#nav-prescriptions")
    await expect(other.locator("#prescriptions-none")).to_be_visible()  # another trust's prescriptions are not theirs
    await other.goto(f"/console/prescriptions/{sid}")
    await expect(other.locator("h1")).to_have_text("Not found")
    await expect(other.locator("main")).not_to_contain_text(nhs)
    await site.shot(other, "prescriptions-03-other-trust-not-found")
