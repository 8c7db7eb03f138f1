"""What an invoice says, whatever it came as (EPS claim, FHIR Invoice, CSV): the canonical billed lines.

The readers (`claim.py`, `fhir_invoice.py`, `csv_invoice.py`) check shape and arithmetic; reconciliation
(`reconcile.py`) then compares each line with the gateway's own record. Money is whole pence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from gateway.errors import Issue, Location
from gateway.invoicing.money import plain, pounds, times, vat_of

MEDICINE: Final = "medicine"
SERVICE: Final = "service"
KINDS: Final = (MEDICINE, SERVICE)


@dataclass(frozen=True, slots=True)
class BilledLine:
    """One billed line. A claim states no price or VAT (None): the price list supplies them."""

    line_no: int
    where: Location
    short_form_id: str
    line_item_id: str | None
    delivery_number: int | None
    kind: str
    code: str
    quantity: Decimal
    unit_price_pence: int | None = None
    net_pence: int | None = None
    vat_rate: Decimal | None = None
    vat_pence: int | None = None

    def seen(self) -> dict[str, str | int | None]:
        """What the line says, for the reconciliation result."""
        return {
            "line_item": self.line_item_id,
            "delivery": self.delivery_number,
            "code": self.code,
            "quantity": plain(self.quantity),
            "unit_price": None if self.unit_price_pence is None else pounds(self.unit_price_pence),
            "vat_rate": None if self.vat_rate is None else plain(self.vat_rate),
        }


@dataclass(frozen=True, slots=True)
class BilledInvoice:
    """An invoice as read: who sent it, to whom, its number and date, lines, and the totals it states."""

    source: str
    reference: str
    issued: date
    provider_ods: str
    trust_ods: str | None
    lines: tuple[BilledLine, ...]
    net_pence: int | None = None
    vat_pence: int | None = None
    total_pence: int | None = None
    totals_at: Location = Location()


def arithmetic_issues(invoice: BilledInvoice) -> list[Issue]:
    """Amounts that do not add up: a line's net against quantity × unit price, its VAT against net × rate, and
    the invoice's totals against the sums of its lines. Each is located where the wrong figure is written."""
    issues = []
    for line in invoice.lines:
        if line.unit_price_pence is not None and line.net_pence is not None:
            want = times(line.quantity, line.unit_price_pence)
            if want != line.net_pence:
                issues.append(_sum_issue(line.where, "net", line.net_pence, want, "quantity × unit price"))
        if line.net_pence is not None and line.vat_rate is not None and line.vat_pence is not None:
            want = vat_of(line.net_pence, line.vat_rate)
            if want != line.vat_pence:
                issues.append(_sum_issue(line.where, "vat", line.vat_pence, want, "net × VAT rate, to the penny"))
    net = sum(line.net_pence or 0 for line in invoice.lines)
    vat = sum(line.vat_pence or 0 for line in invoice.lines)
    for name, stated, want in (
        ("total_net", invoice.net_pence, net),
        ("total_vat", invoice.vat_pence, vat),
        ("total", invoice.total_pence, net + vat),
    ):
        if stated is not None and stated != want:
            issues.append(_sum_issue(invoice.totals_at, name, stated, want, "the sum of the lines"))
    return issues


def _sum_issue(where: Location, name: str, stated: int, want: int, rule: str) -> Issue:
    return Issue(
        "TOTAL_MISMATCH",
        f"{name} {pounds(stated)} does not add up: {rule} is {pounds(want)}",
        Location(line=where.line, column=where.column or name, path=where.path),
        value=pounds(stated),
        expected=pounds(want),
    )
