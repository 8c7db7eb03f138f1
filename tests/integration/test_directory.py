"""What EPS needs that exports do not carry, end to end on SQLite and PostgreSQL: an export for an organisation
the directory lacks is refused, located, saying what to configure; once an operator adds it, the order the
provider releases names it and EPS's coordinator would accept it. Units and schedules EPS cannot read are refused
per prescription; the admin API is for operators only and audits each change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from adapters.jac.writer import render_export
from conformance.parties.exports import export_rows
from gateway.fhir.eps_acceptance import eps_acceptance
from tests.integration.helpers import post_export, release

ADMIN = "/api/v1/admin"
SITE = "RBA07"
ETR = (
    b"RTX,EXAMPLE HOSPITALS NHS TRUST,Y56,QWE,1 HOSPITAL ROAD,,LEEDS,,,LS1 4HR,20010401,,,,,,,01632 960777,,,,0,,,,,\n"
    b"R?X,BROKEN,Y56,QWE,,,,,,LS1 4HR,20010401,,,,,,,,,,,0,,,,,\n"
)


@pytest.fixture
def operator(as_party: Any) -> httpx.AsyncClient:
    client: httpx.AsyncClient = as_party("operator")
    return client


def rows_at_site(site: str | None, **changes: str) -> list[dict[str, str]]:
    rows = export_rows(1, seed=41, provider_ods="VNFKT")
    for row in rows:
        row.update(SiteCode=site or "", **changes)
    return rows


async def test_an_unconfigured_site_is_refused_until_an_operator_adds_it(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    rows = rows_at_site(SITE)
    r = await post_export(trust, render_export(rows))
    assert r.status_code == 422, r.text  # every prescription of the file refused
    (refused,) = r.json()["prescriptions"]
    assert refused["outcome"] == "rejected"
    (issue,) = refused["issues"]
    assert (issue["code"], issue["line"], issue["column"], issue["value"]) == (
        "EPS_NOT_CONFIGURED",
        2,
        "SiteCode",
        SITE,
    )
    assert "hgw organisations" in issue["message"]

    site = {
        "ods": SITE,
        "name": "EXAMPLE CLINIC",
        "address": "MUSGROVE PARK, TAUNTON, TA1 5DA",
        "telecom": "01632 960123",
    }
    added = await operator.post(f"{ADMIN}/organisations", json=site | {"parent_ods": "RBA"})
    assert added.status_code == 200, added.text
    assert (added.json()["postcode"], added.json()["address"]) == ("TA1 5DA", ["MUSGROVE PARK", "TAUNTON"])

    r = await post_export(trust, render_export(rows_at_site(SITE)))
    (accepted,) = r.json()["prescriptions"]
    assert accepted["outcome"] == "accepted", accepted
    (order,) = await release(provider, "VNFKT", short_form_id=accepted["short_form_id"])
    assert eps_acceptance(order) == []
    organization = next(e["resource"] for e in order["entry"] if e["resource"]["resourceType"] == "Organization")
    assert (organization["name"], organization["telecom"][0]["value"]) == ("EXAMPLE CLINIC", "01632 960123")
    assert organization["partOf"]["display"] == "TAUNTON AND SOMERSET NHS FOUNDATION TRUST"


async def test_units_and_schedules_eps_cannot_read_are_refused_per_prescription(trust: httpx.AsyncClient) -> None:
    unknown = rows_at_site(None, QtyUnit="pre-filled bottle pen")
    mixed = export_rows(3, seed=42, provider_ods="VNFKT", rx_prefix="MIX")  # the first has an ancillary line
    mixed[1]["DaysPerDelivery"] = "56"
    r = await post_export(trust, render_export(unknown + mixed))
    assert r.status_code == 200, r.text
    outcomes = {p["rx_number"]: p for p in r.json()["prescriptions"]}
    unit = outcomes[unknown[0]["RxNumber"]]
    assert unit["outcome"] == "rejected"
    # the medicine's line and its ancillary line, each located on its own row
    assert [(i["code"], i["line"], i["expression"]) for i in unit["issues"]] == [
        ("UNKNOWN_DMD_UNIT", 2, "items[0].qty_unit"),
        ("UNKNOWN_DMD_UNIT", 3, "items[1].qty_unit"),
    ]
    assert all(i["expected"] for i in unit["issues"])  # the nearest dm+d units
    schedule = outcomes[mixed[0]["RxNumber"]]
    assert schedule["outcome"] == "rejected"
    assert [(i["code"], i["line"]) for i in schedule["issues"]] == [("EPS_SCHEDULE_DIFFERS", 5)]  # its ancillary line
    assert [p["outcome"] for p in outcomes.values()].count("accepted") == 2  # the others go through


async def test_directory_admin_api_is_for_operators_validated_and_imports_etr(
    operator: httpx.AsyncClient, trust: httpx.AsyncClient
) -> None:
    assert (await trust.get(f"{ADMIN}/organisations")).status_code == 403
    assert (
        await trust.put(f"{ADMIN}/team-contacts/RBA", json={"telecom": "01632 960100", "job_role": "R8000"})
    ).status_code == 403
    bad = await operator.post(
        f"{ADMIN}/organisations", json={"ods": "x!", "name": "", "address": "NOWHERE", "telecom": "12"}
    )
    assert bad.status_code == 400
    assert {(i["code"], i["expression"]) for i in bad.json()["issues"]} == {
        ("INVALID_ODS_CODE", "ods"),
        ("INVALID_VALUE", "telecom"),
        ("INVALID_VALUE", "name"),
        ("INVALID_VALUE", "address"),
    }
    imported = await operator.post(f"{ADMIN}/organisations/import", content=ETR, headers={"Content-Type": "text/csv"})
    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"] == 1
    assert [(i["code"], i["line"]) for i in imported.json()["issues"]] == [("INVALID_ODS_CODE", 2)]
    listed = {o["ods"]: o for o in (await operator.get(f"{ADMIN}/organisations")).json()["organisations"]}
    assert listed["RTX"]["telecom"] == "01632 960777" and listed["RTX"]["source"] == "etr.csv"
    contact = await operator.put(
        f"{ADMIN}/team-contacts/rtx", json={"telecom": "01632 960778", "job_role": "S8001:G8001:R8001"}
    )
    assert contact.json() == {"trust_ods": "RTX", "telecom": "01632 960778", "job_role": "R8001"}
    refused = await operator.put(f"{ADMIN}/team-contacts/RTX", json={"telecom": "01632 960778", "job_role": "R9999"})
    assert refused.status_code == 400 and refused.json()["issues"][0]["expression"] == "job_role"
    contacts = (await operator.get(f"{ADMIN}/team-contacts")).json()["team_contacts"]
    assert {"trust_ods": "RTX", "telecom": "01632 960778", "job_role": "R8001"} in contacts


async def test_control_characters_are_refused_not_stored(operator: httpx.AsyncClient) -> None:
    body = {"ods": "RBA09", "name": "NUL\x00CLINIC", "address": "LINE\x00, TAUNTON, TA1 5DA", "telecom": "01632 960123"}
    r = await operator.post(f"{ADMIN}/organisations", json=body)
    assert r.status_code == 400, r.text
    assert {i["expression"] for i in r.json()["issues"]} == {"name", "address"}
