"""Ascribe-style XML exports through the gateway, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from conformance.parties import provider_messages as msg
from tests.integration.helpers import post_fhir
from tests.paths import DATA

VALID = (DATA / "ascribe" / "valid_full_features" / "input.xml").read_bytes()  # trust RBA
XXE = (DATA / "ascribe" / "malicious_xxe_external_entity" / "input.xml").read_bytes()


async def test_ascribe_export_is_queued_for_its_provider(trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    r = await trust.post("/api/v1/exports", content=VALID, headers={"Content-Type": "application/xml"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["format"] == "ascribe"
    accepted = [p for p in body["prescriptions"] if p["outcome"] in ("accepted", "held")]
    assert accepted, body
    queued = [p["short_form_id"] for p in accepted if p["outcome"] == "accepted" and p["provider_ods"] == "VNFKT"]
    r = await post_fhir(provider, "/FHIR/R4/Task/$release", msg.release_request("VNFKT"))
    passed = next(p for p in r.json()["parameter"] if p["name"] == "passedPrescriptions")["resource"]
    assert sorted(msg.order_facts(e["resource"])["short_form_id"] for e in passed.get("entry", [])) == sorted(queued)


async def test_xxe_is_refused_with_a_located_error(trust: httpx.AsyncClient) -> None:
    r = await trust.post("/api/v1/exports", content=XXE, headers={"Content-Type": "application/xml"})
    assert r.status_code == 422
    issue = r.json()["file_issues"][0]
    assert issue["severity"] == "error" and issue.get("line") is not None
    assert "passwd" not in r.text
