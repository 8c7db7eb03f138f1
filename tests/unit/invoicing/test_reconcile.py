"""Reconciliation rules, one at a time, on facts made by hand (the integration test drives them from real flows)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gateway.errors import Location
from gateway.invoicing.billed import BilledInvoice, BilledLine
from gateway.invoicing.prices import Price
from gateway.invoicing.reconcile import (
    DeliveryFacts,
    ItemFacts,
    PrescriptionFacts,
    Reconciler,
    vat_rates,
)

ITEM = "a54219b8-f741-4c47-b662-e4f8dfa49ab6"
DMD = "15517911000001104"
FACTS = PrescriptionFacts(
    "p-1",
    "SID-1",
    "RBA",
    "0003",
    {ITEM: ItemFacts(DMD, Decimal(4))},
    {1: DeliveryFacts("delivered", date(2026, 12, 1)), 2: DeliveryFacts("dispatched", None)},
)
PRICES = [
    Price("RBA", "VNFKT", DMD, "medicine", 12_500, 400, date(2026, 1, 1), date(2026, 11, 30)),
    Price("RBA", "VNFKT", DMD, "medicine", 13_000, 450, date(2026, 12, 1), None),
]


def _line(**change: object) -> BilledLine:
    base: dict[str, object] = {
        "line_no": 1,
        "where": Location(line=2),
        "short_form_id": "SID-1",
        "line_item_id": ITEM,
        "delivery_number": 1,
        "kind": "medicine",
        "code": DMD,
        "quantity": Decimal(4),
        "unit_price_pence": 13_000,
        "net_pence": 52_000,
        "vat_rate": Decimal(0),
        "vat_pence": 0,
    }
    return BilledLine(**(base | change))  # type: ignore[arg-type]


def _run(
    *lines: BilledLine, facts: PrescriptionFacts = FACTS, billed: dict[str, str] | None = None
) -> list[tuple[str, dict[str, object], dict[str, object]]]:
    invoice = BilledInvoice("csv", "INV-1", date(2026, 12, 20), "VNFKT", "RBA", lines)
    reconciler = Reconciler(
        {facts.short_form_id: facts}, PRICES, vat_rates("medicine=0,service=20"), "RBA", billed or {}
    )
    return [(r.result, r.expected, r.seen) for r in reconciler.run(invoice)]


def test_a_line_that_agrees_with_everything_is_matched() -> None:
    assert _run(_line()) == [("matched", {}, {})]


@pytest.mark.parametrize(
    ("change", "result", "expected", "seen"),
    [
        (
            {"short_form_id": "SID-2"},
            "unknown-prescription",
            {"prescription": "a prescription of trust RBA sent to this provider"},
            {"prescription": "SID-2"},
        ),
        ({"delivery_number": 2}, "not-delivered", {"delivery_state": "delivered"}, {"delivery_state": "dispatched"}),
        ({"delivery_number": 3}, "not-delivered", {"delivery_state": "delivered"}, {"delivery_state": "none"}),
        ({"quantity": Decimal(5), "net_pence": 65_000}, "quantity-mismatch", {"quantity": "4"}, {"quantity": "5"}),
        (
            {"unit_price_pence": 12_500, "net_pence": 50_000},
            "price-mismatch",
            {"unit_price": "130.00", "price_on": "2026-12-01"},
            {"unit_price": "125.00"},
        ),
        ({"vat_rate": Decimal(20), "vat_pence": 10_400}, "vat-mismatch", {"vat_rate": "0"}, {"vat_rate": "20"}),
    ],
)
def test_each_rule(
    change: dict[str, object], result: str, expected: dict[str, object], seen: dict[str, object]
) -> None:
    assert _run(_line(**change)) == [(result, expected, seen)]


def test_the_same_delivery_billed_twice_or_billed_before_is_a_duplicate() -> None:
    assert [r for r, _, _ in _run(_line(), _line(line_no=2))] == ["matched", "duplicate"]
    earlier = {"p-1:" + ITEM + ":1:medicine": "INV-0"}
    assert _run(_line(), billed=earlier) == [("duplicate", {"billed": "once"}, {"already_billed_on": "INV-0"})]


def test_after_cancellation_only_deliveries_made_before_may_be_billed() -> None:
    cancelled = PrescriptionFacts("p-1", "SID-1", "RBA", "0005", FACTS.items, FACTS.deliveries)
    assert [r for r, _, _ in _run(_line(), _line(line_no=2, delivery_number=2), facts=cancelled)] == [
        "matched",
        "cancelled",
    ]


def test_a_claim_line_is_priced_from_the_list_and_names_no_delivery() -> None:
    claim = _line(delivery_number=None, unit_price_pence=None, net_pence=None, vat_rate=None, vat_pence=None)
    invoice = BilledInvoice("claim", "C-1", date(2026, 12, 20), "VNFKT", None, (claim, claim))
    reconciler = Reconciler({"SID-1": FACTS}, PRICES, vat_rates(""), None, {})
    first, second = reconciler.run(invoice)
    assert (first.result, first.delivery_number, first.unit_price_pence, first.net_pence) == (
        "matched",
        1,
        13_000,
        52_000,
    )
    assert second.result == "duplicate"  # the only delivery made is billed already


def test_a_service_line_is_priced_from_the_medicines_service_fee() -> None:
    fee = _line(
        kind="service",
        line_item_id=ITEM,
        quantity=Decimal(1),
        unit_price_pence=450,
        net_pence=450,
        vat_rate=Decimal(20),
        vat_pence=90,
    )
    assert _run(fee) == [("matched", {}, {})]


def test_no_price_in_force_is_a_price_mismatch() -> None:
    early = PrescriptionFacts(
        "p-1", "SID-1", "RBA", "0003", FACTS.items, {1: DeliveryFacts("delivered", date(2025, 1, 1))}
    )
    assert _run(_line(), facts=early)[0][:2] == ("price-mismatch", {"unit_price": None, "price_on": "2025-01-01"})


def test_vat_rates_setting() -> None:
    assert vat_rates("service=5") == {"medicine": Decimal(0), "service": Decimal(5)}
    with pytest.raises(ValueError, match="kind=percent"):
        vat_rates("food=0")
