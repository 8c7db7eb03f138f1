"""The console in Debian's chromium: sign-in, pages, filters (NHS number too), replay after a dry run,
pause and resume, a viewer refused, masking by default and an audited unmask. Screenshots kept as artefacts."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from sqlmodel import col, select

from gateway.audit.sequencer import sequence
from gateway.store.audit_tables import AuditRecord
from gateway.store.tables import OutboxEntry, Provider
from tests.browser.conftest import PASSWORD, Site

pytestmark = pytest.mark.browser


async def _state(site: Site, message_id: str) -> str:
    async with site.gw.sessions() as session:
        row = (await session.exec(select(OutboxEntry).where(OutboxEntry.message_id == message_id))).one()
        return row.state


async def _actions(site: Site, action: str) -> list[AuditRecord]:
    await sequence(site.gw, wait=True)
    async with site.gw.sessions() as session:
        stmt = select(AuditRecord).where(AuditRecord.action == action).order_by(col(AuditRecord.seq))
        return list((await session.exec(stmt)).all())


async def test_sign_in_pages_and_filters(site: Site) -> None:
    page = await site.login("otto", "not the password")
    await expect(page.locator("#login-error")).to_contain_text("wrong username or password")
    assert page.url.endswith("/console/login")
    await site.shot(page, "01-login-refused")

    page = await site.login("otto")
    await expect(page.locator("h1")).to_have_text("Overview")
    await expect(page.locator("#whoami")).to_have_text("otto (operator)")
    await expect(page.locator("#nav-kpis")).to_be_visible()  # the KPI page is served: linked from every page
    row = page.locator('#provider-table tr[data-provider="VNFKT"]')
    await expect(row).to_contain_text("Five Star Homecare")
    await expect(row).to_contain_text("n/a (pull)")
    await expect(page.locator('#provider-table tr[data-provider="VNCEL"]')).to_contain_text("closed")
    await expect(page.locator('#trust-table tr[data-trust="RBA"]')).to_be_visible()
    cookie = next(c for c in await page.context.cookies() if c["name"] == "hgw_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    await site.shot(page, "02-overview")

    await page.click("#nav-messages")
    await expect(page.locator("#result-count")).to_contain_text("4 messages")
    await page.select_option("#f-state", "dead")
    await page.click("#apply-filters")
    await expect(page.locator("#result-count")).to_contain_text("2 messages")
    assert {await r.get_attribute("data-message") for r in await page.locator("#message-table tbody tr").all()} == set(
        site.seeded.dead
    )
    await page.select_option("#f-error", "bad-request")
    await page.select_option("#f-provider", "VNCEL")
    await page.click("#apply-filters")
    await expect(page.locator("#result-count")).to_contain_text("0 messages")

    # The NHS number search: posted, turned into its blind index, never put in the URL.
    target = site.seeded.rows[3]
    await page.click("#clear-filters")
    await page.fill("#f-nhs", f"{target['NHSNumber'][:3]} {target['NHSNumber'][3:6]} {target['NHSNumber'][6:]}")
    await page.click("#apply-filters")
    await expect(page.locator("#result-count")).to_contain_text("1 message for the NHS number searched")
    assert target["NHSNumber"] not in page.url and "nhs_index=" in page.url
    await expect(page.locator("#message-table tbody tr")).to_have_attribute(
        "data-message", site.seeded.messages[target["RxNumber"]]
    )
    await site.shot(page, "03-nhs-number-search")
    await page.fill("#f-nhs", "123 456 7890")
    await page.click("#apply-filters")
    await expect(page.locator("#error")).to_contain_text("not a valid NHS number")
    await expect(page.locator("#filters")).to_be_visible()  # the form stays, with what else was chosen


async def test_dry_run_then_replay_pause_and_resume(site: Site) -> None:
    page = await site.login("otto")
    mid = site.seeded.dead[0]
    await page.goto(f"/console/messages/{mid}")
    await expect(page.locator("#message-state")).to_have_text("dead")
    await expect(page.locator("#attempts")).to_contain_text("bad-request")
    await page.click("#replay-preview")
    await expect(page.locator("h1")).to_contain_text("dry run")
    await expect(page.locator("#replay-summary")).to_contain_text("1 message would be queued again")
    assert await _state(site, mid) == "dead"  # the preview changed nothing
    await site.shot(page, "04-replay-preview")
    await page.click("#replay-confirm")
    await expect(page.locator("h1")).to_have_text("Replayed")
    assert await _state(site, mid) == "queued"
    await site.shot(page, "05-replayed")

    # A filtered set: the other dead letter, previewed then replayed from the browser's filters.
    await page.goto("/console/messages")
    await page.select_option("#f-state", "dead")
    await page.select_option("#f-provider", "VNFKT")
    await page.click("#apply-filters")
    await page.click("#replay-preview-set")
    await expect(page.locator(".replay-row")).to_have_count(1)
    await page.click("#replay-confirm")
    assert await _state(site, site.seeded.dead[1]) == "queued"

    await page.goto("/console")
    await page.click("#pause-VNCEL")
    await expect(page.locator('tr[data-provider="VNCEL"] .pause-state')).to_have_text("paused")
    async with site.gw.sessions() as session:
        assert (await session.get(Provider, "VNCEL")).paused is True  # type: ignore[union-attr]
    await site.shot(page, "06-paused")
    await page.click("#resume-VNCEL")
    await expect(page.locator('tr[data-provider="VNCEL"] .pause-state')).to_have_text("running")
    assert [r.actor_client_id for r in await _actions(site, "operator.pause")] == ["operator:otto"]
    assert [r.actor_client_id for r in await _actions(site, "operator.replay")] == ["operator:otto"] * 2

    await page.click("#logout")
    await expect(page.locator("#sign-in")).to_be_visible()
    await page.goto("/console")
    assert page.url.endswith("/console/login")


async def test_a_viewer_cannot_replay_and_data_is_masked_until_an_auditor_unmasks(site: Site) -> None:
    mid = site.seeded.dead[0]
    row = site.seeded.rows[0]
    page = await site.login("vera")
    await page.goto(f"/console/messages/{mid}")
    await expect(page.locator("#patient-nhs")).to_have_text("•••")
    await expect(page.locator("#replay-preview")).to_have_count(0)
    await expect(page.locator("#unmask")).to_have_count(0)
    html = await page.content()
    assert row["NHSNumber"] not in html and row["Surname"] not in html
    await site.shot(page, "07-viewer-masked")
    # The form is not shown, and posting it anyway (with the page's own CSRF token) is refused.
    csrf = await page.locator('input[name="csrf_token"]').first.get_attribute("value")
    refused = await page.request.post("/console/replay", form={"csrf_token": csrf or "", "message_id": mid})
    assert refused.status == 403 and "viewer role may not replay" in await refused.text()
    forged = await page.request.post("/console/replay", form={"csrf_token": "forged", "message_id": mid})
    assert forged.status == 403
    assert await _state(site, mid) == "dead"

    auditor = await site.login("aud")
    await auditor.goto(f"/console/messages/{mid}")
    await expect(auditor.locator("#patient-nhs")).to_have_text("•••")
    await auditor.select_option("#unmask-reason", "clinical-query")
    await auditor.click("#unmask")
    nhs = row["NHSNumber"]
    await expect(auditor.locator("#patient-nhs")).to_have_text(f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}")
    await expect(auditor.locator("#unmasked-note")).to_be_visible()
    assert nhs not in auditor.url
    await site.shot(auditor, "08-auditor-unmasked")
    unmasks = await _actions(site, "patient-data.unmask")
    assert [(r.actor_client_id, r.entity_type) for r in unmasks] == [("operator:aud", "prescription")]

    await auditor.click("#nav-audit")
    await expect(auditor.locator('#audit-table tr[data-action="patient-data.unmask"]')).to_contain_text(
        "reason=clinical-query"
    )
    await site.shot(auditor, "09-audit-trail")


async def test_admin_adds_an_operator_who_can_then_sign_in(site: Site) -> None:
    page = await site.login("ada")
    await page.click("#nav-operators")
    await page.fill("#new-username", "nina")
    await page.select_option("#new-role", "viewer")
    await page.fill("#new-password", PASSWORD)
    await page.click("#add-operator")
    await expect(page.locator("#operators-note")).to_contain_text("nina added as viewer")
    await site.shot(page, "10-operators")
    other = await site.login("nina")
    await expect(other.locator("#whoami")).to_have_text("nina (viewer)")
    await expect(other.locator("#nav-operators")).to_have_count(0)
