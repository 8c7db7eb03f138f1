"""Invoices from real flows, on SQLite and PostgreSQL: prescriptions ordered, released, dispensed and delivered
(or not), then billed as CSV, FHIR Invoice and EPS Claim; every reconciliation result, the trust's decisions,
spend equal to the approved lines, and no invoice read across tenants."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.jac.writer import render_export
from conformance.parties.exports import MEDICINES
from gateway.context import Gateway
from gateway.domain.identifiers import new_short_form_id
from gateway.fhir.serialise import dumps_bundle
from gateway.operations import operators
from gateway.simulate import invoices as bill
from tests.integration.helpers import FHIR, post_export, post_fhir
from tests.integration.test_lifecycle_scenarios import _deliver, _prescription, _rows

PASSWORD = "invoice-page-test-password-1"  # noqa: S105 - a test operator
UNIT = 12_500  # £125.00 for every medicine in the price list
ISSUED = date(2026, 12, 20)


def price_csv(unit_pence: int = UNIT) -> bytes:
    rows = ["trust_ods,provider_ods,code,kind,unit_price,service_fee,valid_from,valid_to"]
    rows += [f"RBA,VNFKT,{m[0]},medicine,{unit_pence / 100:.2f},4.00,2026-01-01," for m in MEDICINES]
    rows.append("RBA,VNFKT,nurse-visit,service,45.00,0,2026-01-01,")
    return ("\r\n".join(rows) + "\r\n").encode()


@pytest.fixture
def operator(as_party: Any) -> httpx.AsyncClient:
    client: httpx.AsyncClient = as_party("operator")
    return client


async def _load_prices(operator: httpx.AsyncClient) -> None:
    r = await operator.post("/api/v1/admin/prices", content=price_csv(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json() == {"added": len(MEDICINES) + 1, "replaced": 0, "unchanged": 0}


async def _post_csv(provider: httpx.AsyncClient, body: bytes, status: int = 201) -> dict[str, Any]:
    r = await provider.post("/api/v1/invoices", content=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == status, r.text
    return dict(r.json())


def _results(invoice: dict[str, Any]) -> list[str]:
    return [line["result"] for line in invoice["lines"]]


async def test_every_reconciliation_result_from_real_flows(
    gw: Gateway,
    trust: httpx.AsyncClient,
    provider: httpx.AsyncClient,
    other_provider: httpx.AsyncClient,
    operator: httpx.AsyncClient,
    as_party: Any,
) -> None:
    await _load_prices(operator)
    # Ordered, released, acknowledged; some delivered (with a dispense notification), some not.
    done = await _prescription(trust, provider, 301, deliveries=2)
    await _deliver(provider, done, 1)
    more = await _prescription(trust, provider, 302, deliveries=2)
    await _deliver(provider, more, 1)
    vat = await _prescription(trust, provider, 303, deliveries=2)
    await _deliver(provider, vat, 1)
    # Cancelled by the trust before the provider took it.
    cancelled_rows = _rows(304, NumberOfDeliveries="2", DaysPerDelivery="28")
    cancelled_sid = (await post_export(trust, render_export(cancelled_rows))).json()["prescriptions"][0][
        "short_form_id"
    ]
    cancel = _rows(304, NumberOfDeliveries="2", DaysPerDelivery="28", Action="CANCEL", CancelReason="x")
    assert (await post_export(trust, render_export(cancel))).json()["prescriptions"][0]["outcome"] == "cancelled"

    row = cancelled_rows[0]
    [first] = bill.medicine_bills(done, 1, UNIT)
    [undelivered] = bill.medicine_bills(done, 2, UNIT)
    [too_many] = bill.medicine_bills(more, 1, UNIT)
    [taxed] = bill.medicine_bills(vat, 1, UNIT)
    lines = [
        first,
        undelivered,
        first,  # the same delivery twice on one invoice
        too_many.but(quantity=too_many.quantity + 1),
        taxed.but(vat_rate=Decimal(20)),
        first.but(short_form_id=new_short_form_id("A99968"), line_item_id=None),
        bill.Bill(cancelled_sid, None, 1, "medicine", row["DmdCode"], Decimal(row["QtyPerDelivery"]), UNIT),
        bill.Bill(done["short_form_id"], None, 1, "service", "nurse-visit", Decimal(1), 4_500, Decimal(20)),
    ]
    invoice = await _post_csv(provider, bill.csv_invoice("INV-301", ISSUED, "RBA", lines))
    assert _results(invoice)[:5] == ["matched", "not-delivered", "duplicate", "quantity-mismatch", "vat-mismatch"]
    assert _results(invoice)[5:] == ["unknown-prescription", "cancelled", "matched"]
    assert invoice["lines"][1]["expected"] == {"delivery_state": "delivered"}
    assert invoice["lines"][1]["seen"] == {"delivery_state": "none"}
    assert invoice["lines"][3]["expected"] == {"quantity": str(too_many.quantity.normalize())}
    assert invoice["lines"][4]["expected"] == {"vat_rate": "0"}
    assert (invoice["status"], invoice["provider"], invoice["trust"]) == ("pending", "VNFKT", "RBA")

    # A FHIR Invoice billing the first delivery again (duplicate across invoices) and one at the wrong price.
    await _deliver(provider, vat, 2)
    resource = bill.fhir_invoice("INV-302", ISSUED, "VNFKT", "RBA", [first, taxed.but(unit_pence=UNIT + 1, delivery=2)])
    r = await provider.post("/FHIR/R4/Invoice", content=dumps_bundle(resource), headers=FHIR)
    assert r.status_code == 201, r.text
    outcome = [item["extension"][0]["extension"][0]["valueCoding"]["code"] for item in r.json()["lineItem"]]
    assert outcome == ["duplicate", "price-mismatch"]
    listed = (await trust.get("/api/v1/invoices")).json()["invoices"]
    fhir_view = next(i for i in listed if i["reference"] == "INV-302")
    assert fhir_view["lines"][1]["expected"] == {"unit_price": "125.00", "price_on": "2026-12-02"}
    assert fhir_view["lines"][1]["seen"] == {"unit_price": "125.01"}
    assert fhir_view["lines"][0]["seen"] == {"already_billed_on": "INV-301"}

    # An EPS claim for a delivered prescription: priced from the list, matched.
    third = await _prescription(trust, provider, 305, deliveries=1)
    await _deliver(provider, third, 1)
    r = await post_fhir(provider, "/FHIR/R4/Claim", bill.claim(third, "VNFKT"))
    assert r.status_code == 200, r.text
    claim_id = r.headers["location"].rsplit("/", 1)[1]
    claimed = (await trust.get(f"/api/v1/invoices/{claim_id}")).json()
    assert (claimed["source"], claimed["trust"], _results(claimed)) == ("claim", "RBA", ["matched"])
    assert claimed["lines"][0]["unit_price"] == "125.00"

    # Every result from real flows.
    seen = {line["result"] for i in (await trust.get("/api/v1/invoices")).json()["invoices"] for line in i["lines"]}
    assert seen == {
        "matched",
        "not-delivered",
        "quantity-mismatch",
        "duplicate",
        "price-mismatch",
        "vat-mismatch",
        "unknown-prescription",
        "cancelled",
    }

    # The trust decides: approve matched lines, dispute the rest; the provider sees the outcome.
    approve = [
        {"line": line["line"], "decision": "approve"} for line in invoice["lines"] if line["result"] == "matched"
    ]
    r = await trust.post(
        f"/api/v1/invoices/{invoice['id']}/decisions", json={"decisions": [*approve, {"decision": "dispute"}]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "part-approved"
    again = await trust.post(
        f"/api/v1/invoices/{invoice['id']}/decisions", json={"decisions": [{"line": 1, "decision": "dispute"}]}
    )
    assert again.status_code == 409
    r = await trust.post(f"/api/v1/invoices/{claim_id}/decisions", json={"decisions": [{"decision": "approve"}]})
    assert r.json()["status"] == "approved"
    back = (await provider.get(f"/FHIR/R4/Invoice/{invoice['id']}")).json()
    assert back["status"] == "issued"
    disputed = [i["expression"][0] for i in back["contained"][0]["issue"]]
    assert disputed == [f"Invoice.lineItem[{n}]" for n in (1, 2, 3, 4, 5, 6)]
    assert (await provider.get(f"/FHIR/R4/Invoice/{claim_id}")).json()["status"] == "balanced"

    # Spend equals the sum of the approved lines, medicines and services apart.
    approved = [
        line
        for i in (await trust.get("/api/v1/invoices")).json()["invoices"]
        for line in i["lines"]
        if line["decision"] == "approved"
    ]
    pence = sum(int(Decimal(line["net"]) * 100) + int(Decimal(line["vat"]) * 100) for line in approved)
    spend = (await trust.get("/api/v1/spend", params={"from": "2026-12"})).json()
    assert Decimal(spend["totals"]["total"]) * 100 == pence
    assert Decimal(spend["totals"]["services"]) == Decimal("54.00")  # £45 + 20% VAT
    assert Decimal(spend["totals"]["medicines"]) * 100 == pence - 5400
    csv_spend = (await operator.get("/api/v1/spend", params={"from": "2026-12", "format": "csv"})).text
    assert csv_spend.splitlines()[0] == "trust,provider,month,kind,code,lines,volume,net,vat,total,disputed,pending"
    fhir_spend = (await trust.get("/api/v1/spend", params={"from": "2026-12", "format": "fhir"})).json()
    scores = [g["measureScore"]["value"] for e in fhir_spend["entry"] for g in e["resource"]["group"]]
    assert sum(Decimal(str(s)) for s in scores) * 100 == pence

    # The console shows the invoices, the lines that did not match and the spend chart.
    await operators.add_operator(gw, username="viewer1", role="viewer", password=PASSWORD)
    session = await operators.login(gw, "viewer1", PASSWORD)
    async with httpx.AsyncClient(base_url=str(trust.base_url), cookies={"hgw_session": session.token}) as browser:
        page = (await browser.get("/console/invoices", params={"from": "2026-11", "to": "2026-12"})).text
        assert 'id="nav-invoices"' in page and page.count('<tr data-invoice="') == 3
        shown = set(re.findall(r'<tr class="result-([a-z-]+)">', page))
        assert shown == {
            "not-delivered",
            "duplicate",
            "quantity-mismatch",
            "price-mismatch",
            "vat-mismatch",
            "unknown-prescription",
            "cancelled",
        }
        assert f"Approved £{spend['totals']['total']}" in page and 'data-series="VNFKT"' in page
        assert (await browser.get("/console/invoices", params={"from": "2026-13"})).status_code == 400

    # No cross-tenant read: the other trust and the other provider see nothing of these.
    other_trust = as_party("other_trust")
    for client in (other_trust, other_provider):
        assert (await client.get("/api/v1/invoices")).json() == {"invoices": []}
        assert (await client.get(f"/api/v1/invoices/{invoice['id']}")).status_code == 404
        assert (await client.get(f"/FHIR/R4/Invoice/{invoice['id']}")).status_code == 404
    r = await other_trust.post(
        f"/api/v1/invoices/{invoice['id']}/decisions", json={"decisions": [{"decision": "approve"}]}
    )
    assert r.status_code == 404
    assert (await other_trust.get("/api/v1/spend", params={"from": "2026-12"})).json()["rows"] == []
    # A provider cannot bill what another provider was sent: unknown to it.
    theirs = await _post_csv(other_provider, bill.csv_invoice("OTHER-1", ISSUED, "RBA", [first]))
    assert _results(theirs) == ["unknown-prescription"]
