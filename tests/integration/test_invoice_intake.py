"""Invoice intake over real HTTP on SQLite and PostgreSQL: EPS's claim examples answered as EPS answered them,
the raw body kept sealed whatever the outcome, resends, located errors, and the price list and spend by command."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from click.testing import CliRunner
from sqlmodel import select

from gateway.audit.sequencer import sequence
from gateway.context import Gateway
from gateway.invoicing.claim import MISSING_ENDORSEMENT
from gateway.invoicing.cli import prices_group, spend
from gateway.simulate import invoices as bill
from gateway.store.audit_tables import AuditRecord
from gateway.store.sealed import inbound_context
from gateway.store.tables import InboundPayload
from tests.integration.helpers import FHIR, error_codes, post_fhir
from tests.integration.test_invoicing import price_csv
from tests.integration.test_lifecycle_scenarios import _deliver, _prescription
from tests.paths import EPS_EXAMPLES

CLAIM_OK = EPS_EXAMPLES / "spec/dispensing/claim/acute-primary-example-req.json"
CLAIM_REFUSED = (
    EPS_EXAMPLES
    / "primary-care/acute/nominated-pharmacy/medical-prescriber/2-Claim-Request-400_Missing_Endorsement_Code.json"
)


async def _payloads(gw: Gateway) -> list[InboundPayload]:
    async with gw.sessions() as session:
        rows = (await session.exec(select(InboundPayload).where(InboundPayload.tenant_ods == "VNFKT"))).all()
    return sorted(rows, key=lambda p: p.received_at)


async def test_eps_claim_examples_are_accepted_or_refused_as_eps_does(gw: Gateway, provider: httpx.AsyncClient) -> None:
    ok = await provider.post("/FHIR/R4/Claim", content=CLAIM_OK.read_bytes(), headers=FHIR)
    assert ok.status_code == 200, ok.text
    assert ok.json()["issue"][0]["severity"] == "information"
    refused = await provider.post("/FHIR/R4/Claim", content=CLAIM_REFUSED.read_bytes(), headers=FHIR)
    assert refused.status_code == 400
    [issue] = refused.json()["issue"]
    assert (issue["code"], issue["diagnostics"]) == ("invalid", MISSING_ENDORSEMENT)
    # The example's prescription is not one the gateway sent: accepted, every line unknown to it.
    invoice = (await provider.get(ok.headers["location"].replace("/FHIR/R4/Invoice", "/api/v1/invoices"))).json()
    assert {line["result"] for line in invoice["lines"]} == {"unknown-prescription"} and invoice["trust"] is None
    # Both raw bodies are kept, sealed, with their outcomes.
    stored = await _payloads(gw)
    assert [(p.format, p.outcome) for p in stored] == [("eps-claim", "accepted"), ("eps-claim", "rejected")]
    assert json.loads(stored[1].summary or "{}") == {"issues": ["MISSING_ENDORSEMENT_CODE"]}
    opened = gw.cipher.open(stored[1].body_enc, context=inbound_context(stored[1].id, "VNFKT"))
    assert opened == CLAIM_REFUSED.read_bytes() and CLAIM_REFUSED.read_bytes() not in stored[1].body_enc


async def test_resends_and_reused_numbers(gw: Gateway, trust: httpx.AsyncClient, provider: httpx.AsyncClient) -> None:
    facts = await _prescription(trust, provider, 311, deliveries=1)
    await _deliver(provider, facts, 1)
    body = bill.csv_invoice("INV-311", date(2026, 12, 20), "RBA", bill.medicine_bills(facts, 1, 100))
    headers = {"Content-Type": "text/csv"}
    first = await provider.post("/api/v1/invoices", content=body, headers=headers)
    again = await provider.post("/api/v1/invoices", content=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()  # the same invoice, not a second one with duplicate lines
    other = body.replace(b"INV-311,2026-12-20", b"INV-311,2026-12-21")
    reused = await provider.post("/api/v1/invoices", content=other, headers=headers)
    assert reused.status_code == 409
    assert len((await trust.get("/api/v1/invoices")).json()["invoices"]) == 1
    assert [p.outcome for p in await _payloads(gw)] == ["accepted", "duplicate", "rejected"]
    wrong_type = await provider.post("/api/v1/invoices", content=body, headers={"Content-Type": "application/xml"})
    assert wrong_type.status_code == 415
    bad = body.replace(b",1.00,", b",1.001,", 1)
    r = await provider.post("/api/v1/invoices", content=bad, headers=headers)
    assert r.status_code == 400
    assert [(i["line"], i["column"], i["code"]) for i in r.json()["issues"]][0] == (2, "unit_price", "INVALID_AMOUNT")
    # A trust cannot submit; a provider cannot decide.
    assert (await trust.post("/api/v1/invoices", content=body, headers=headers)).status_code == 403
    r = await provider.post(
        f"/api/v1/invoices/{first.json()['id']}/decisions", json={"decisions": [{"decision": "approve"}]}
    )
    assert r.status_code == 403
    # A claim refused for its shape says where, as an OperationOutcome.
    claim = bill.claim(facts, "VNFKT")
    claim["item"][0]["detail"][0]["programCode"][0]["coding"][0]["code"] = "free"
    r = await post_fhir(provider, "/FHIR/R4/Claim", claim)
    assert (r.status_code, error_codes(r.json())) == (400, ["INVALID_VALUE"])


async def test_prices_by_api_and_command_audited_and_spend_by_command(
    gw: Gateway, as_party: Any, trust: httpx.AsyncClient
) -> None:
    operator = as_party("operator")
    entries = {
        "prices": [
            {
                "trust_ods": "RBA",
                "provider_ods": "VNFKT",
                "code": "nurse-visit",
                "kind": "service",
                "unit_price": "45.00",
                "valid_from": "2026-01-01",
            }
        ]
    }
    r = await operator.post("/api/v1/admin/prices", json=entries)
    assert (r.status_code, r.json()) == (200, {"added": 1, "replaced": 0, "unchanged": 0})
    assert (await trust.post("/api/v1/admin/prices", json=entries)).status_code == 403
    bad = {"prices": [dict(entries["prices"][0], unit_price="forty")]}
    r = await operator.post("/api/v1/admin/prices", json=bad)
    assert [(i["line"], i["column"]) for i in r.json()["issues"]] == [(1, "unit_price")]

    runner = CliRunner()
    path = gw.settings.data_dir / "prices.csv"
    path.write_bytes(price_csv())
    result = await asyncio.to_thread(runner.invoke, prices_group, ["import", str(path)], obj=gw.settings)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["added"] >= 1
    again = await asyncio.to_thread(runner.invoke, prices_group, ["import", str(path)], obj=gw.settings)
    assert json.loads(again.output)["added"] == 0 and json.loads(again.output)["replaced"] == 0
    path.write_bytes(price_csv().replace(b"2026-01-01", b"2026-13-01", 1))
    refused = await asyncio.to_thread(runner.invoke, prices_group, ["import", str(path)], obj=gw.settings)
    assert refused.exit_code == 1 and json.loads(refused.output)["issues"][0]["column"] == "valid_from"
    listed = (await trust.get("/api/v1/admin/prices")).json()["prices"]
    assert {p["trust_ods"] for p in listed} == {"RBA"} and any(p["unit_price"] == "45.00" for p in listed)

    await sequence(gw, wait=True)  # the entries committed so far, chained
    async with gw.sessions() as session:
        actions = (await session.exec(select(AuditRecord.action, AuditRecord.actor_role))).all()
    assert sum(a == "price.change" for a, _ in actions) == 3  # the API load, the two command imports

    out = await asyncio.to_thread(runner.invoke, spend, ["--from", "2026-12", "--format", "csv"], obj=gw.settings)
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == ["trust,provider,month,kind,code,lines,volume,net,vat,total,disputed,pending"]
    report = await asyncio.to_thread(runner.invoke, spend, ["--from", "2026-12", "--to", "2026-11"], obj=gw.settings)
    assert report.exit_code == 1 and json.loads(report.output)["issues"][0]["code"] == "INVALID_PERIOD"
    assert Decimal("0") == Decimal(
        json.loads((await asyncio.to_thread(runner.invoke, spend, ["--from", "2026-12"], obj=gw.settings)).output)[
            "totals"
        ]["total"]
    )


async def test_the_same_delivery_billed_twice_at_once_is_one_duplicate(
    trust: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    facts = await _prescription(trust, provider, 312, deliveries=1)
    await _deliver(provider, facts, 1)
    bills = bill.medicine_bills(facts, 1, 100)
    headers = {"Content-Type": "text/csv"}
    bodies = [bill.csv_invoice(f"RACE-{n}", date(2026, 12, 20), "RBA", bills) for n in range(4)]
    answers = await asyncio.gather(*(provider.post("/api/v1/invoices", content=b, headers=headers) for b in bodies))
    assert [r.status_code for r in answers] == [201] * 4
    results = sorted(line["result"] for r in answers for line in r.json()["lines"])
    assert results == ["duplicate"] * (3 * len(bills)) + ["price-mismatch"] * len(bills)  # no price list loaded
