"""One portal (issue 18): a trust's and a provider's staff sign in to the same console and see only their own
organisation's patients, exactly as the API's trust and provider clients do; the gateway's operators see all,
masked. On SQLite and PostgreSQL, over a real loopback server."""

from __future__ import annotations

import re

import httpx
import pytest

from conformance.parties.exports import export_rows
from gateway.audit.actor import OperatorActor
from gateway.context import Gateway
from gateway.domain.principal import Role
from gateway.errors import ForbiddenError, InputError
from gateway.operations import operators
from gateway.safety.at_risk import worklist
from gateway.security.tenancy import visible_scope
from tests.conftest import serve
from tests.integration.test_kpis import _principal
from tests.integration.test_patients_at_risk import DAY, Scenario, at

PASSWORD = "org-portal-test-password-1"  # noqa: S105 - test users


def _rows(page: str) -> list[str]:
    return re.findall(r'data-prescription="([^"]+)"', page)


async def test_organisation_users_see_their_own_as_the_api_does(gw: Gateway) -> None:
    h = Scenario(gw)
    rba = await h.new_patient(901, "VNFKT")
    rhm = await h.new_patient(902, "VNCEL", trust="RHM")
    h.at(at(9))
    users = {
        "rba-staff": ("RBA", "trust"),
        "vncel-staff": ("VNCEL", "provider"),
        "ops": (None, None),
    }
    tokens = {}
    for name, (ods, kind) in users.items():
        await operators.add_operator(
            gw, username=name, role="viewer", password=PASSWORD, organisation=ods, organisation_kind=kind
        )
        tokens[name] = (await operators.login(gw, name, PASSWORD)).token

    # the same worklist as the API's tenants: rows and NHS numbers
    for (ods, kind), principal in (
        (("RBA", "trust"), _principal(Role.TRUST, "RBA")),
        (("VNCEL", "provider"), _principal(Role.PROVIDER, "VNCEL")),
    ):
        staff = OperatorActor("x", "viewer", ods, kind)
        assert (await worklist(gw, staff, as_of=DAY)).as_json() == (await worklist(gw, principal, as_of=DAY)).as_json()
    with pytest.raises(ForbiddenError):
        visible_scope(OperatorActor("x", "viewer", "RBA", "trust"), None, "RHM")
    with pytest.raises(ForbiddenError):
        visible_scope(OperatorActor("x", "viewer", "VNCEL", "provider"), "VNFKT", None)

    async with serve(gw) as url:

        def browser(name: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=url, cookies={"hgw_session": tokens[name]})

        async with browser("rba-staff") as b:
            r = await b.get("/console")
            assert r.status_code == 303 and r.headers["location"] == "/console/at-risk"
            page = (await b.get("/console/at-risk")).text
            assert _rows(page) == [rba] and "RHM" not in page
            nhs = export_rows(1, seed=901)[0]["NHSNumber"]
            assert f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}" in page
            assert 'id="nav-messages"' not in page and 'id="nav-at-risk"' in page and "trust RBA" in page
            assert (await b.get("/console/messages")).status_code == 403
            assert (await b.get("/console/messages/00000000-0000-0000-0000-000000000000")).status_code == 403
            kpis = await b.get("/console/kpis", params={"period": "2026-11"})
            assert kpis.status_code == 200
            assert set(re.findall(r'<tr data-provider="([^"]+)">', kpis.text)) == {"All providers", "VNFKT"}
            assert (await b.get("/console/kpis", params={"trust": "RHM"})).status_code == 403
        async with browser("vncel-staff") as b:
            assert _rows((await b.get("/console/at-risk")).text) == [rhm]
        async with browser("ops") as b:
            page = (await b.get("/console/at-risk")).text
            assert sorted(_rows(page)) == sorted([rba, rhm]) and "•••" in page
            assert (await b.get("/console/messages")).status_code == 200


async def test_an_organisation_is_a_trust_or_a_provider_with_an_ods_code(gw: Gateway) -> None:
    for organisation, kind in (("RBA", None), (None, "trust"), ("RBA", "pharmacy"), ("R B", "trust")):
        with pytest.raises(InputError):
            await operators.add_operator(
                gw, username="bad1", role="viewer", password=PASSWORD, organisation=organisation, organisation_kind=kind
            )
