"""The CSV invoice (`POST /api/v1/invoices`, text/csv) for providers without FHIR. Layout: docs/invoicing.md.

One row per billed line; the invoice's own fields (number, date, trust, totals) repeat on every row and must
agree. Every problem is located by line and column, and a file with any problem is refused whole.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final

from gateway.domain.identifiers import is_valid_ods_code, is_valid_short_form_id
from gateway.errors import InputError, Issue, Location
from gateway.invoicing.billed import KINDS, BilledInvoice, BilledLine, arithmetic_issues
from gateway.invoicing.csvtext import Row, cell_issue, read_rows
from gateway.invoicing.money import pence_or_none, quantity_or_none, rate_or_none

COLUMNS: Final = (
    "invoice_number",
    "invoice_date",
    "trust_ods",
    "prescription",
    "kind",
    "code",
    "quantity",
    "unit_price",
    "net",
    "vat_rate",
    "vat",
    "invoice_total",
)
OPTIONAL: Final = ("provider_ods", "line_item", "delivery", "description")
HEADER_FIELDS: Final = ("invoice_number", "invoice_date", "trust_ods", "provider_ods", "invoice_total")
MAX_REFERENCE: Final = 64


def parse_csv_invoice(payload: bytes, provider_ods: str) -> BilledInvoice:
    """The invoice in `payload`, sent by `provider_ods`; InputError locating every problem."""
    rows = read_rows(payload, COLUMNS, OPTIONAL)
    if not rows:
        raise InputError([Issue("EMPTY_FILE", "the invoice has no lines", Location(line=2))])
    issues: list[Issue] = []
    first = rows[0]
    for row in rows[1:]:
        for name in HEADER_FIELDS:
            if row.get(name) != first.get(name):
                issues.append(cell_issue(row, name, "INCONSISTENT_VALUE", "differs from line 2", first.get(name)[:80]))
    reference = first.get("invoice_number")
    if not reference or len(reference) > MAX_REFERENCE:
        issues.append(cell_issue(first, "invoice_number", "INVALID_VALUE", "no invoice number", "1 to 64 characters"))
    try:
        issued = date.fromisoformat(first.get("invoice_date"))
    except ValueError:
        issues.append(cell_issue(first, "invoice_date", "INVALID_DATE", "not a date", "YYYY-MM-DD"))
        issued = date.min
    trust = first.get("trust_ods").upper()
    if not is_valid_ods_code(trust):
        issues.append(cell_issue(first, "trust_ods", "INVALID_ODS_CODE", "not an ODS code", "the trust billed"))
    stated_provider = first.get("provider_ods").upper()
    if stated_provider and stated_provider != provider_ods:
        issues.append(cell_issue(first, "provider_ods", "FORBIDDEN_TENANT", "not the sender", provider_ods))
    total = pence_or_none(first.get("invoice_total"))
    if total is None:
        issues.append(cell_issue(first, "invoice_total", "INVALID_AMOUNT", "not an amount", "pounds, e.g. 1250.00"))
    lines = []
    for n, row in enumerate(rows, 1):
        line, problems = _line(n, row)
        issues += problems
        if line is not None:
            lines.append(line)
    if issues:
        raise InputError(issues)
    invoice = BilledInvoice(
        "csv", reference, issued, provider_ods, trust, tuple(lines), total_pence=total, totals_at=Location(line=2)
    )
    sums = arithmetic_issues(invoice)
    if sums:
        raise InputError(sums)
    return invoice


def _line(n: int, row: Row) -> tuple[BilledLine | None, list[Issue]]:
    issues = []
    sid = row.get("prescription").upper()
    if not is_valid_short_form_id(sid):
        issues.append(
            cell_issue(row, "prescription", "INVALID_PRESCRIPTION_ID", "not a short-form id", "XXXXXX-XXXXXX-XXXXXX")
        )
    kind = row.get("kind").lower()
    if kind not in KINDS:
        issues.append(cell_issue(row, "kind", "INVALID_VALUE", "unknown kind of line", "medicine or service"))
    code = row.get("code")
    if not code or len(code) > 40 or any(c.isspace() for c in code):
        issues.append(cell_issue(row, "code", "INVALID_VALUE", "not a code", "a dm+d code or a service code"))
    delivery: int | None = None
    if row.get("delivery"):
        delivery = int(row.get("delivery")) if row.get("delivery").isdigit() else 0
        if not 1 <= delivery <= 999:
            issues.append(cell_issue(row, "delivery", "INVALID_VALUE", "not a delivery number", "1, 2, 3 …"))
    item = row.get("line_item").lower() or None
    if item is not None and len(item) > 36:
        issues.append(cell_issue(row, "line_item", "INVALID_VALUE", "not a line-item id", "the EPS line-item UUID"))
    quantity = quantity_or_none(row.get("quantity"))
    if quantity is None:
        issues.append(cell_issue(row, "quantity", "INVALID_QUANTITY", "not a quantity", "a positive decimal"))
    money = {name: pence_or_none(row.get(name)) for name in ("unit_price", "net", "vat")}
    for name, value in money.items():
        if value is None:
            issues.append(cell_issue(row, name, "INVALID_AMOUNT", "not an amount", "pounds, e.g. 12.50"))
    rate = rate_or_none(row.get("vat_rate"))
    if rate is None:
        issues.append(cell_issue(row, "vat_rate", "INVALID_VALUE", "not a VAT rate", "percent, e.g. 0 or 20"))
    if issues or quantity is None or rate is None:
        return None, issues
    return (
        BilledLine(
            n,
            Location(line=row.line),
            sid,
            item,
            delivery,
            kind,
            code,
            quantity,
            money["unit_price"],
            money["net"],
            Decimal(rate),
            money["vat"],
        ),
        [],
    )
