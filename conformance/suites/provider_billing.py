"""The provider suite's billing tests (pull mode): after delivering the suite's order, the provider bills it to the
gateway — an EPS Claim, a FHIR Invoice or a CSV invoice (docs/invoicing.md) — and the suite reads it as the
gateway does (`hgw invoices read`): refused exactly as the gateway would refuse it, and each line checked against
the order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from conformance.context import SuiteContext
from conformance.gateway_answers import read_bill
from conformance.listener import Arrival, Listener
from conformance.model import TestRun
from conformance.parties import provider_messages as msg
from conformance.polling_gateway import BILLING_PATHS
from conformance.suites.provider import SUITE, _provider_ods

LINE_ITEM = "https://fhir.nhs.uk/Id/prescription-order-item-number"  # EPS: a line item's id
MEDICINE = "medicine"  # a billed line's kind: the medicine itself, not a service (docs/invoicing.md)

billing = SUITE.group("PRV-BILL", "A polling provider bills the order it delivered")


def _is_bill(arrival: Arrival) -> bool:
    return arrival.method == "POST" and arrival.path.rstrip("/").endswith(BILLING_PATHS)


@billing.test(
    "PRV-BILL-001",
    "The provider's claim or invoice is one the gateway accepts",
    requirements=["PRV-BILL-1"],
    depends=["PRV-PULL-002"],
    modes=["pull"],
)
async def bill_accepted(ctx: SuiteContext, t: TestRun) -> None:
    listener: Listener = ctx.state["listener"]
    arrival = await listener.wait_for(_is_bill, ctx.timeout)
    if arrival is None:
        t.skip(f"the provider billed nothing within {ctx.timeout:g} s (billing through the gateway is optional)")
    bill = await read_bill(arrival.path.rstrip("/"), arrival.body, _provider_ods(ctx))
    if "lines" not in bill:
        for issue in bill["issues"]:
            t.check(False, "PRV-BILL-1", issue["message"], issue["location"])
        t.fail("PRV-BILL-1", f"{arrival.path} would be refused by the gateway", arrival.path)
    ctx.state["bill"] = bill["lines"]


@billing.test(
    "PRV-BILL-002",
    "Each billed line names the order and one of its line items, within the quantity per delivery",
    requirements=["PRV-BILL-2"],
    depends=["PRV-BILL-001"],
    modes=["pull"],
)
async def bill_lines(ctx: SuiteContext, t: TestRun) -> None:
    lines: list[dict[str, Any]] = ctx.state["bill"]
    facts = msg.order_facts(ctx.state["gateway"].order.bundle)
    items: dict[str, tuple[str, Decimal]] = {}
    for request in facts["requests"]:
        item = next(i["value"] for i in request["identifier"] if i["system"] == LINE_ITEM)
        code = request["medicationCodeableConcept"]["coding"][0]["code"]
        items[item] = (code, Decimal(str(request["dispenseRequest"]["quantity"]["value"])))
    t.check(bool(lines), "PRV-BILL-2", "the bill has no lines", "lines")
    for line in lines:
        where, number, quantity = line["location"], line["line_no"], Decimal(line["quantity"])
        t.check(
            line["short_form_id"] == facts["short_form_id"],
            "PRV-BILL-2",
            f"line {number} names {line['short_form_id']}, the order is {facts['short_form_id']}",
            where,
        )
        if line["kind"] != MEDICINE:
            continue
        by_code = next((v for v in items.values() if v[0] == line["code"]), None)
        known: Any = items.get(line["line_item"] or "") or by_code
        if not t.check(known is not None, "PRV-BILL-2", f"line {number} names no line item of the order", where):
            continue
        t.check(
            quantity <= known[1],
            "PRV-BILL-2",
            f"line {number} bills {line['quantity']}, more than the {known[1]} a delivery holds",
            where,
        )
