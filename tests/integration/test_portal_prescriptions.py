"""One portal (issue 18): the console's Prescriptions pages. A trust's staff see their trust's prescriptions across
every provider, a provider's staff the orders routed to it, the gateway's operators all of them (NHS numbers
masked); another organisation's prescription is a 404, exactly when the API answers 404 to the same tenant. On
SQLite and PostgreSQL, over a real loopback server."""

from __future__ import annotations

import json
import re
from datetime import date

import httpx
import pytest
from sqlmodel import col, select

from adapters.jac.writer import render_export
from conformance.parties.exports import export_rows
from gateway.audit.sequencer import sequence
from gateway.context import Gateway
from gateway.domain.principal import Principal, Role
from gateway.errors import NotFoundError
from gateway.intake.ingest import ingest_export
from gateway.lifecycle.prescription_view import prescription_view
from gateway.operations import admin, operators
from gateway.store.audit_tables import AuditRecord
from gateway.store.tables import Prescription
from tests.conftest import serve
from tests.integration.test_kpis import History, _principal, t

PASSWORD = "portal-prescriptions-password-1"  # noqa: S105 - test users
# username -> (organisation, kind); "ops" is one of the gateway's operators
USERS = {
    "rba-staff": ("RBA", "trust"),
    "rhm-staff": ("RHM", "trust"),
    "vncel-staff": ("VNCEL", "provider"),
    "vnfkt-staff": ("VNFKT", "provider"),
    "ops": (None, None),
}
# username -> the API client acting for the same organisation
API_TWIN = {
    "rba-staff": _principal(Role.TRUST, "RBA"),
    "rhm-staff": _principal(Role.TRUST, "RHM"),
    "vncel-staff": _principal(Role.PROVIDER, "VNCEL"),
    "vnfkt-staff": _principal(Role.PROVIDER, "VNFKT"),
    "ops": _principal(Role.OPERATOR, "X26"),
}


def _listed(page: str) -> list[str]:
    return re.findall(r'<tr data-prescription="([^"]+)"', page)


def _spaced(seed: int) -> str:
    n = export_rows(1, seed=seed)[0]["NHSNumber"]
    return f"{n[:3]} {n[3:6]} {n[6:]}"


async def _api_status(gw: Gateway, principal: Principal, sid: str) -> int:
    try:
        await prescription_view(gw, principal, sid)
    except NotFoundError:
        return 404
    return 200


@pytest.fixture
async def portal(gw: Gateway) -> tuple[History, dict[str, str], dict[str, str]]:
    """Four prescriptions: RBA's to VNFKT, RBA's to VNCEL (accepted and delivered once), RHM's to VNCEL, and RBA's
    held without a provider; with a console user of each organisation and one of the gateway's operators."""
    for rule in await admin.routes(gw):
        await admin.remove_route(gw, rule.id or 0)  # a prescription naming no provider is held
    h = History(gw)
    rx = {"rba-vnfkt": await h.prescribe("RBA", "VNFKT", 501, t(10, 1))}
    facts = await h.order("RBA", "VNCEL", 502, t(10, 2), 1, deliveries=3)
    rx["rba-vncel"] = str(facts["short_form_id"])
    await h.deliver("VNCEL", facts, 1, date(2026, 10, 5), t(10, 5, 11))
    rx["rhm-vncel"] = await h.prescribe("RHM", "VNCEL", 503, t(10, 3))
    h.at(t(10, 4))
    held = export_rows(1, seed=504, trust_ods="RBA", signed=t(10, 4, 8))
    [outcome] = (await ingest_export(gw, API_TWIN["rba-staff"], render_export(held), "text/csv")).prescriptions
    assert outcome.outcome == "held", outcome.as_dict()
    rx["rba-held"] = str(outcome.short_form_id)
    h.at(t(10, 6))
    tokens = {}
    for name, (ods, kind) in USERS.items():
        await operators.add_operator(
            gw, username=name, role="viewer", password=PASSWORD, organisation=ods, organisation_kind=kind
        )
        tokens[name] = (await operators.login(gw, name, PASSWORD)).token
    return h, rx, tokens


async def test_each_organisation_lists_its_own_prescriptions_newest_first(
    gw: Gateway, portal: tuple[History, dict[str, str], dict[str, str]]
) -> None:
    _, rx, tokens = portal
    seeds = {"rba-vnfkt": 501, "rba-vncel": 502, "rhm-vncel": 503, "rba-held": 504}
    expected = {
        "rba-staff": ["rba-held", "rba-vncel", "rba-vnfkt"],  # every provider, held ones too
        "rhm-staff": ["rhm-vncel"],
        "vncel-staff": ["rhm-vncel", "rba-vncel"],  # the orders routed to it, of every trust
        "vnfkt-staff": ["rba-vnfkt"],
        "ops": ["rba-held", "rhm-vncel", "rba-vncel", "rba-vnfkt"],
    }
    async with serve(gw) as url:
        for name, keys in expected.items():
            async with httpx.AsyncClient(base_url=url, cookies={"hgw_session": tokens[name]}) as b:
                r = await b.get("/console/prescriptions")
                assert r.status_code == 200, r.text
                assert _listed(r.text) == [rx[k] for k in keys], name
                assert 'id="nav-prescriptions"' in r.text
                for key, seed in seeds.items():  # NHS numbers: their own patients', never anyone else's
                    assert (_spaced(seed) in r.text) == (key in keys and name != "ops"), (name, key)
                if name == "ops":
                    assert r.text.count("•••") == 4
                others = {k for k in rx if k not in keys}
                assert not any(rx[k] in r.text for k in others)

        async with httpx.AsyncClient(base_url=url, cookies={"hgw_session": tokens["rba-staff"]}) as b:
            page1 = await b.get("/console/prescriptions", params={"limit": "2"})
            assert _listed(page1.text) == [rx["rba-held"], rx["rba-vncel"]] and 'id="next-page"' in page1.text
            page2 = await b.get("/console/prescriptions", params={"limit": "2", "page": "2"})
            assert _listed(page2.text) == [rx["rba-vnfkt"]] and 'id="next-page"' not in page2.text
            active = await b.get("/console/prescriptions", params={"status": "0003"})  # With Dispenser - Active
            assert _listed(active.text) == [rx["rba-vncel"]]
            waiting = await b.get("/console/prescriptions", params={"status": "0001"})
            assert _listed(waiting.text) == [rx["rba-held"], rx["rba-vnfkt"]]
            hostile = ({"page": "9" * 5000}, {"page": str(10**18)}, {"limit": "1" * 5000})
            for bad in ({"status": "9999"}, {"limit": "0"}, {"limit": "5000"}, {"page": "x"}, *hostile):
                refused = await b.get("/console/prescriptions", params=bad)
                assert refused.status_code == 400 and next(iter(bad)) in refused.text, bad
        async with httpx.AsyncClient(base_url=url) as anonymous:
            r = await anonymous.get("/console/prescriptions")
            assert r.status_code == 303 and r.headers["location"] == "/console/login"

    # each patient record a trust's staff saw in the list is in the audit trail, by prescription id
    await sequence(gw, wait=True)
    async with gw.sessions() as session:
        stmt = select(AuditRecord).where(
            AuditRecord.action == "patient-data.read", AuditRecord.actor_client_id == "operator:rba-staff"
        )
        records = list((await session.exec(stmt.order_by(col(AuditRecord.seq)))).all())
        own = [rx[k] for k in ("rba-held", "rba-vncel", "rba-vnfkt")]
        ids = set((await session.exec(select(Prescription.id).where(col(Prescription.short_form_id).in_(own)))).all())
    named = {e["what"]["identifier"]["value"] for r in records for e in json.loads(r.event_json)["entity"]}
    assert len(ids) == 3 and ids <= named
    assert all(_spaced(s) not in r.event_json for r in records for s in seeds.values())


async def test_a_prescription_and_its_timeline_exactly_where_the_api_shows_it(
    gw: Gateway, portal: tuple[History, dict[str, str], dict[str, str]]
) -> None:
    _, rx, tokens = portal
    async with serve(gw) as url:
        for name in USERS:
            async with httpx.AsyncClient(base_url=url, cookies={"hgw_session": tokens[name]}) as b:
                for key, sid in rx.items():
                    r = await b.get(f"/console/prescriptions/{sid}")
                    api = await _api_status(gw, API_TWIN[name], sid)
                    assert r.status_code == api, (name, key)  # the API's tenancy, prescription by prescription
                    if r.status_code == 404:
                        assert "Not found" in r.text and "rx_number" not in r.text and "Timeline" not in r.text
                        assert 'id="nav-prescriptions"' in r.text
                assert (await b.get("/console/prescriptions/" + "9" * 300)).status_code == 404

        async with httpx.AsyncClient(base_url=url, cookies={"hgw_session": tokens["rba-staff"]}) as b:
            page = (await b.get(f"/console/prescriptions/{rx['rba-vncel']}")).text
            api = await prescription_view(gw, API_TWIN["rba-staff"], rx["rba-vncel"])
            kinds = re.findall(r'<tr data-kind="([^"]+)"', page)
            assert kinds == [e["kind"] for e in api["timeline"]]
            assert {"received", "queued", "released", "acknowledged", "delivery-delivered"} <= set(kinds)
            for words in ("Received from the trust", "Accepted by the provider", "Delivered", "Delivery on its way"):
                assert words in page
            assert _spaced(502) in page and "With Dispenser" in page and "VNCEL" in page
            assert "lease " not in page and "prescription-order for" not in page  # the gateway's workings: not theirs
            other = await b.get(f"/console/prescriptions/{rx['rhm-vncel']}")
            assert other.status_code == 404 and _spaced(503) not in other.text
        async with httpx.AsyncClient(base_url=url, cookies={"hgw_session": tokens["ops"]}) as b:
            page = (await b.get(f"/console/prescriptions/{rx['rhm-vncel']}")).text
            assert "•••" in page and _spaced(503) not in page and "/console/messages/" in page
            assert "prescription-order for VNCEL" in page  # the gateway's operators see its workings too
