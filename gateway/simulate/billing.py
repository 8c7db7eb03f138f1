"""The demo's billing: each simulated provider invoices what it delivered, with a few deliberate discrepancies for
the console to show, and the simulated trust approves what matched and disputes the rest (docs/invoicing.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from gateway.context import Gateway
from gateway.fhir.serialise import dumps_bundle
from gateway.invoicing import prices
from gateway.simulate.invoices import Bill, csv_invoice, fhir_invoice

UNIT_PENCE = 12_500  # the demo price list: £125.00 a unit of every medicine
SERVICE = "nurse-visit"
SERVICE_PENCE = 4_500


async def load_demo_prices(gw: Gateway, trust_ods: str, providers: Sequence[str], codes: set[str]) -> None:
    """A price list per provider: every medicine delivered at £125.00, and a nurse visit at £45.00."""
    entries = [
        prices.Price(trust_ods, p, code, "medicine", UNIT_PENCE, 400, date(2000, 1, 1), None)
        for p in providers
        for code in sorted(codes)
    ]
    entries += [
        prices.Price(trust_ods, p, SERVICE, "service", SERVICE_PENCE, 0, date(2000, 1, 1), None) for p in providers
    ]
    await prices.load_prices(gw, list(enumerate(entries, 1)))


def delivered_bills(view: dict[str, Any]) -> list[Bill]:
    """A medicine line per line item and delivery made, from the trust's view of the prescription."""
    return [
        Bill(
            view["short_form_id"],
            item["id"],
            d["number"],
            "medicine",
            item["dmd_code"],
            Decimal(item["quantity"]),
            UNIT_PENCE,
        )
        for d in view["deliveries"]
        if d["state"] == "delivered"
        for item in view["items"]
    ]


def with_discrepancies(bills: list[Bill]) -> list[Bill]:
    """The bills with a duplicate, a wrong price, too much quantity, an undelivered delivery and a wrong VAT rate."""
    if not bills:
        return bills
    first = bills[0]
    out = list(bills)
    out.append(first)  # billed twice
    if len(out) > 2:
        out[1] = out[1].but(unit_pence=UNIT_PENCE + 100)
    if len(out) > 3:
        out[2] = out[2].but(quantity=out[2].quantity + 1)
    out.append(first.but(delivery=99))  # never delivered
    out.append(
        Bill(first.short_form_id, None, first.delivery, "service", SERVICE, Decimal(1), SERVICE_PENCE, Decimal(0))
    )
    return out


async def bill_and_decide(
    gw: Gateway,
    trust: httpx.AsyncClient,
    providers: dict[str, httpx.AsyncClient],
    trust_ods: str,
    short_form_ids: Sequence[str],
    out: Callable[[str], None],
) -> None:
    """Load the price list, have each provider invoice its deliveries (the first by CSV, the others by FHIR
    Invoice), and have the trust approve matched lines and dispute the rest."""
    views = [(await trust.get(f"/api/v1/prescriptions/{sid}")).json() for sid in short_form_ids]
    codes = {item["dmd_code"] for v in views for item in v["items"]}
    await load_demo_prices(gw, trust_ods, list(providers), codes)
    issued = gw.clock().date()
    for n, (ods, client) in enumerate(providers.items()):
        bills = [b for v in views if v["provider_ods"] == ods for b in delivered_bills(v)]
        if not bills:
            continue
        number = f"DEMO-{ods}-1"
        if n == 0:
            body = csv_invoice(number, issued, trust_ods, with_discrepancies(bills))
            r = await client.post("/api/v1/invoices", content=body, headers={"Content-Type": "text/csv"})
        else:
            resource = fhir_invoice(number, issued, ods, trust_ods, bills)
            r = await client.post(
                "/FHIR/R4/Invoice", content=dumps_bundle(resource), headers={"Content-Type": "application/fhir+json"}
            )
        if r.status_code not in (200, 201):
            out(f"{ods} invoice {number} refused: {r.text[:200]}")
            continue
        invoice_id = r.json()["id"]
        invoice = (await trust.get(f"/api/v1/invoices/{invoice_id}")).json()
        results = [line["result"] for line in invoice["lines"]]
        out(f"{ods} billed {number}: £{invoice['total']}, lines " + ", ".join(results))
        decisions = [
            {"line": line["line"], "decision": "approve" if line["result"] == "matched" else "dispute"}
            for line in invoice["lines"]
        ]
        decided = (await trust.post(f"/api/v1/invoices/{invoice_id}/decisions", json={"decisions": decisions})).json()
        out(f"trust decided {number}: {decided['status']}")
    spend = (await trust.get("/api/v1/spend", params={"from": issued.strftime("%Y-%m")})).json()
    out(f"approved spend this month: £{spend['totals']['total']} (disputed £{spend['totals']['disputed']})")
