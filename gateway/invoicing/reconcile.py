"""Reconciliation: each billed line against the gateway's own record of the prescription, its deliveries and the
price list. Pure: the facts come in, one result per line comes out (docs/invoicing.md, Reconciliation).

The first rule a line breaks decides its result, in this order: `unknown-prescription` (no such prescription sent
to this provider for this trust, or no such line item), `cancelled` (billed for a delivery not made before the
prescription was cancelled), `not-delivered` (no confirmed delivery), `duplicate` (the same delivery already
billed, on this invoice or an earlier one not disputed), `quantity-mismatch` (more than a delivery's quantity),
`price-mismatch` (against the price in force on the delivery date), `vat-mismatch` (a rate other than expected for
the kind of line), else `matched`. Each result says what was expected and what was seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final

from gateway.invoicing.billed import MEDICINE, BilledInvoice, BilledLine
from gateway.invoicing.money import plain, pounds, rate_or_none, times, vat_of
from gateway.invoicing.prices import Price, in_force
from gateway.store.invoices import DeliveryFacts, ItemFacts, PrescriptionFacts

MATCHED: Final = "matched"
RESULTS: Final = (
    "unknown-prescription",
    "cancelled",
    "not-delivered",
    "duplicate",
    "quantity-mismatch",
    "price-mismatch",
    "vat-mismatch",
    MATCHED,
)
CANCELLED_STATUS: Final = "0005"
DELIVERED: Final = "delivered"
DEFAULT_VAT: Final = "medicine=0,service=20"

Json = dict[str, str | int | None]


@dataclass(frozen=True, slots=True)
class Found:
    """Where a line landed in the gateway's record: the prescription, line item and delivery it bills."""

    facts: PrescriptionFacts
    item_id: str | None = None
    number: int | None = None
    delivery: DeliveryFacts | None = None


@dataclass(frozen=True, slots=True)
class Reconciled:
    """A billed line, priced (a claim's from the price list), with its result."""

    line: BilledLine
    result: str
    expected: Json
    seen: Json
    prescription_id: str | None = None
    trust_ods: str | None = None
    line_item_id: str | None = None
    delivery_number: int | None = None
    delivery_date: date | None = None
    unit_price_pence: int = 0
    net_pence: int = 0
    vat_rate: Decimal = Decimal(0)
    vat_pence: int = 0
    bill_key: str | None = None


def vat_rates(text: str) -> dict[str, Decimal]:
    """`medicine=0,service=20` → the expected VAT rate (percent) by kind of line; ValueError when malformed."""
    rates = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, value = part.partition("=")
        rate = rate_or_none(value)
        if kind.strip() not in ("medicine", "service") or rate is None:
            raise ValueError(f"not kind=percent: {part!r}")
        rates[kind.strip()] = rate
    return {"medicine": Decimal(0), "service": Decimal(20)} | rates


@dataclass
class Reconciler:
    """Reconciles the lines of one invoice; `billed` (bill key → invoice reference) grows as lines are billed."""

    facts: Mapping[str, PrescriptionFacts]
    prices: Sequence[Price]
    vat: Mapping[str, Decimal]
    trust_ods: str | None
    billed: dict[str, str] = field(default_factory=dict)

    def run(self, invoice: BilledInvoice) -> list[Reconciled]:
        return [self.line(line, invoice) for line in invoice.lines]

    def line(self, line: BilledLine, invoice: BilledInvoice) -> Reconciled:
        facts = self.facts.get(line.short_form_id)
        if facts is None or (self.trust_ods is not None and facts.trust_ods != self.trust_ods):
            want: Json = {"prescription": f"a prescription of trust {self.trust_ods or 'any'} sent to this provider"}
            return self._priced(line, "unknown-prescription", want, {"prescription": line.short_form_id}, None)
        item_id, item = self._item(line, facts)
        if item is None:
            want = {"line_items": ", ".join(sorted(facts.items)) or None}
            return self._priced(line, "unknown-prescription", want, line.seen(), Found(facts))
        if line.kind == MEDICINE and item.dmd_code != line.code:
            return self._priced(
                line, "unknown-prescription", {"code": item.dmd_code}, line.seen(), Found(facts, item_id)
            )
        number = line.delivery_number or self._next_delivery(line, facts, item_id)
        delivery = facts.deliveries.get(number) if number else None
        found = Found(facts, item_id, number, delivery)
        delivered = delivery is not None and delivery.state == DELIVERED
        state = delivery.state if delivery else "none"
        if facts.status == CANCELLED_STATUS and not delivered:
            want = {"status": "delivered before cancellation"}
            return self._priced(line, "cancelled", want, {"status": "cancelled", "delivery_state": state}, found)
        if not delivered:
            return self._priced(line, "not-delivered", {"delivery_state": DELIVERED}, {"delivery_state": state}, found)
        key = bill_key(facts.prescription_id, item_id, number, line)
        if key in self.billed:
            want = {"billed": "once"}
            return self._priced(line, "duplicate", want, {"already_billed_on": self.billed[key]}, found, key)
        self.billed[key] = invoice.reference
        if line.kind == MEDICINE and line.quantity > item.quantity:
            want = {"quantity": plain(item.quantity)}
            return self._priced(line, "quantity-mismatch", want, {"quantity": plain(line.quantity)}, found, key)
        return self._priced(line, "", {}, {}, found, key)

    def _item(self, line: BilledLine, facts: PrescriptionFacts) -> tuple[str | None, ItemFacts | None]:
        if line.line_item_id:
            return line.line_item_id, facts.items.get(line.line_item_id)
        if line.kind == MEDICINE:
            found = [(i, f) for i, f in facts.items.items() if f.dmd_code == line.code]
            return found[0] if found else (None, None)
        return None, ItemFacts("", Decimal(0))  # a service line for the prescription as a whole

    def _next_delivery(self, line: BilledLine, facts: PrescriptionFacts, item_id: str | None) -> int | None:
        """A line naming no delivery (an EPS claim) bills the first delivered one not billed yet, else the last."""
        delivered = sorted(n for n, d in facts.deliveries.items() if d.state == DELIVERED)
        for n in delivered:
            if bill_key(facts.prescription_id, item_id, n, line) not in self.billed:
                return n
        return delivered[-1] if delivered else None

    def _priced(
        self,
        line: BilledLine,
        result: str,
        expected: Json,
        seen: Json,
        found: Found | None,
        key: str | None = None,
    ) -> Reconciled:
        """Price the line (a claim from the list) and, when `result` is still open, check price and VAT."""
        facts = found.facts if found else None
        delivery = found.delivery if found else None
        day = delivery.delivered_on if delivery else None
        price = in_force(self._prices(facts), line.code, day) if day else None
        listed = (
            None if price is None else price.unit_price_pence if price.kind == line.kind else price.service_fee_pence
        )
        unit = line.unit_price_pence if line.unit_price_pence is not None else listed or 0
        want_rate = self.vat[line.kind]
        rate = line.vat_rate if line.vat_rate is not None else want_rate
        net = line.net_pence if line.net_pence is not None else times(line.quantity, unit)
        vat = line.vat_pence if line.vat_pence is not None else vat_of(net, rate)
        if not result:
            if listed is None or listed != unit:
                result = "price-mismatch"
                on = day.isoformat() if day else "the delivery date"
                expected = {"unit_price": None if listed is None else pounds(listed), "price_on": on}
                seen = {"unit_price": pounds(unit)}
            elif rate != want_rate:
                result, expected, seen = "vat-mismatch", {"vat_rate": plain(want_rate)}, {"vat_rate": plain(rate)}
            else:
                result, expected, seen = MATCHED, {}, {}
        return Reconciled(
            line,
            result,
            expected,
            seen,
            facts.prescription_id if facts else None,
            facts.trust_ods if facts else None,
            found.item_id if found else None,
            found.number if found else None,
            day,
            unit,
            net,
            rate,
            vat,
            key,
        )

    def _prices(self, facts: PrescriptionFacts | None) -> list[Price]:
        trust = facts.trust_ods if facts else None
        return [p for p in self.prices if p.trust_ods == trust]


def bill_key(prescription_id: str, item_id: str | None, number: int | None, line: BilledLine) -> str:
    """What a line bills: one delivery of one line item (a medicine), or one service for it."""
    what = "medicine" if line.kind == MEDICINE else f"service:{line.code}"
    return f"{prescription_id}:{item_id or '-'}:{number}:{what}"[:120]
