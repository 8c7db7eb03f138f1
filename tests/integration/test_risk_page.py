"""The console's "At risk" page over a real loopback server, on SQLite and PostgreSQL: a signed-in viewer sees the
worklist sorted by days left with reasons, owner, action and colour bands, NHS numbers masked; the navigation
links it and the dead letters; without a session it is the login page; a bad day is refused in plain words."""

from __future__ import annotations

import re

import httpx

from gateway.context import Gateway
from gateway.operations import operators
from gateway.store import alerts as alert_store
from gateway.store.tables import Alert
from tests.conftest import serve
from tests.integration.test_patients_at_risk import Scenario, at

PASSWORD = "risk-page-test-password-1"  # noqa: S105 - a test operator


async def test_the_at_risk_page_lists_the_worklist_by_days_left(gw: Gateway) -> None:
    h = Scenario(gw)
    soon = await h.prescribe("RBA", "VNFKT", 801, at(8), deliveries=3, FirstDeliveryDate="15/11/2026")
    urgent = await h.new_patient(802, "VNCEL")  # first delivery 2026-11-13: 3 days left
    h.at(at(9))
    await operators.add_operator(gw, username="viewer1", role="viewer", password=PASSWORD)
    session = await operators.login(gw, "viewer1", PASSWORD)
    async with serve(gw) as url:
        async with httpx.AsyncClient(base_url=url) as anon:
            r = await anon.get("/console/at-risk")
            assert r.status_code == 303 and r.headers["location"] == "/console/login"
        async with httpx.AsyncClient(base_url=url, cookies={"hgw_session": session.token}) as browser:
            page = (await browser.get("/console/at-risk")).text
            assert 'id="nav-at-risk"' in page and 'href="/console/messages?state=dead"' in page
            rows = re.findall(r'<tr class="risk-(\w+)" data-prescription="([^"]+)" data-days-left="(-?\d+)">', page)
            assert rows == [("urgent", urgent, "3"), ("soon", soon, "5")]
            assert "order-not-acknowledged" in page and "acknowledge the order" in page
            assert "•••" in page and 'data-live="60"' in page
            past = (await browser.get("/console/at-risk", params={"as_of": "2026-11-09"})).text
            assert 'id="risk-none"' in past
            narrow = (await browser.get("/console/at-risk", params={"days": "4"})).text
            assert re.findall(r'data-prescription="([^"]+)"', narrow) == [urgent]
            r = await browser.get("/console/at-risk", params={"as_of": "2026-11-31"})
            assert r.status_code == 400 and "as_of is a calendar date" in r.text
            js = await browser.get("/console/static/live.js")
            assert js.status_code == 200 and "data-live" in js.text


async def test_the_console_lives_warns_and_speaks_plainly(gw: Gateway) -> None:
    h = Scenario(gw)
    await h.new_patient(803, "VNFKT")
    h.at(at(9))
    await operators.add_operator(gw, username="viewer2", role="viewer", password=PASSWORD)
    session = await operators.login(gw, "viewer2", PASSWORD)
    async with gw.sessions() as db, db.begin():
        opened = Alert(
            kind="queue-age",
            subject="VNFKT",
            open_key="queue-age:VNFKT",
            state="open",
            value=90,
            threshold=60,
            summary="VNFKT: oldest of 1 waiting message(s) is 90 min old (threshold 60 min)",
            opened_at=at(8, 30),
        )
        assert await alert_store.insert_open(db, opened)
    async with serve(gw) as url:
        async with httpx.AsyncClient(base_url=url) as anon:
            missing = await anon.get("/console/no-such-page")
            assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
            assert "no such page" in missing.text
        async with httpx.AsyncClient(base_url=url, cookies={"hgw_session": session.token}) as browser:
            for path in ("/console", "/console/messages", "/console/at-risk", "/console/kpis"):
                page = (await browser.get(path)).text
                assert 'id="alert-banner"' in page and "oldest of 1 waiting" in page, path
            overview = (await browser.get("/console")).text
            assert 'data-live="30"' in overview and "/console/static/live.js" in overview
            assert re.search(r'<td class="bad">\d+ min</td>', overview)  # 90 min waiting: past the 60-minute threshold
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', overview)
            assert csrf is not None
            form = {"csrf_token": csrf[1], "nhs_number": "123 456 7890", "provider": "VNFKT"}
            r = await browser.post("/console/messages/search", data=form)
            assert r.status_code == 400 and 'id="filters"' in r.text
            assert "NHS number: not a valid NHS number" in r.text and 'value="VNFKT" selected' in r.text
