"""The FHIR R4 `Invoice` a provider posts (`POST /FHIR/R4/Invoice`), read into billed lines. Shape: docs/invoicing.md.

Each `lineItem` names the prescription (short-form id), the EPS line item and the delivery in the
HomecareInvoiceLine extension, the medicine (dm+d SNOMED code) or service in `chargeItemCodeableConcept`, and
its money in `priceComponent`: `base` (factor = quantity, amount = net), `informational` coded `unit-price`,
and `tax` coded `VAT` (factor = rate as a fraction, amount = VAT). Every problem is located by FHIRPath.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Final

from gateway.domain.identifiers import is_valid_ods_code, is_valid_short_form_id
from gateway.errors import InputError, Issue, Location
from gateway.fhir.urls import HOMECARE_BASE
from gateway.invoicing.billed import MEDICINE, SERVICE, BilledInvoice, BilledLine, arithmetic_issues
from gateway.invoicing.money import pence_or_none, plain, quantity_or_none, rate_or_none
from gateway.invoicing.shape import dicts, dig, obj

ODS: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
SNOMED: Final = "http://snomed.info/sct"
SHORT_FORM: Final = "https://fhir.nhs.uk/Id/prescription-order-number"
LINE_ITEM: Final = "https://fhir.nhs.uk/Id/prescription-order-item-number"
EXT_INVOICE_LINE: Final = f"{HOMECARE_BASE}/StructureDefinition/Extension-HomecareInvoiceLine"
SERVICE_CODES: Final = f"{HOMECARE_BASE}/CodeSystem/homecare-invoice-service"
PRICE_COMPONENT: Final = f"{HOMECARE_BASE}/CodeSystem/homecare-price-component"
INVOICE_NUMBER: Final = f"{HOMECARE_BASE}/Id/invoice-number"
MAX_LINES: Final = 10_000


class _Reader:
    """Collects located issues while reading; `fail` at the end raises them all."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def problem(self, path: str, code: str, message: str, expected: str, value: object = None) -> None:
        shown = None if value is None else str(value)[:80]
        self.issues.append(Issue(code, message, Location(path=path), value=shown, expected=expected))

    def obj(self, value: object, path: str) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.problem(
            path, "MISSING_VALUE" if value is None else "INVALID_VALUE", "missing or not an object", "an object"
        )
        return {}

    def text(self, value: object, path: str, expected: str) -> str:
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.problem(path, "MISSING_VALUE", "missing or not a string", expected, value)
        return ""


def _identifier(reader: _Reader, ref: object, path: str) -> str:
    ident = reader.obj(reader.obj(ref, path).get("identifier"), f"{path}.identifier")
    ods = reader.text(ident.get("value"), f"{path}.identifier.value", "an ODS code").upper()
    if ods and (ident.get("system") != ODS or not is_valid_ods_code(ods)):
        reader.problem(f"{path}.identifier", "INVALID_ODS_CODE", "not an ODS organisation identifier", ODS, ods)
    return ods


def read_fhir_invoice(resource: dict[str, Any], provider_ods: str) -> BilledInvoice:
    """The billed invoice in an Invoice resource sent by `provider_ods`; InputError locating every problem."""
    r = _Reader()
    if resource.get("resourceType") != "Invoice":
        r.problem(
            "Invoice.resourceType", "INVALID_RESOURCE_TYPE", "not an Invoice", "Invoice", resource.get("resourceType")
        )
        raise InputError(r.issues)
    if resource.get("status") != "issued":
        r.problem(
            "Invoice.status",
            "INVALID_VALUE",
            "only an issued invoice can be submitted",
            "issued",
            resource.get("status"),
        )
    idents = resource.get("identifier")
    number = (
        next(
            (i.get("value") for i in dicts(idents) if i.get("system") == INVOICE_NUMBER),
            None,
        )
        if isinstance(idents, list)
        else None
    )
    reference = r.text(number, "Invoice.identifier", f"an identifier with system {INVOICE_NUMBER}")
    if len(reference) > 64:
        r.problem("Invoice.identifier", "INVALID_VALUE", "too long", "at most 64 characters", reference)
    try:
        issued = date.fromisoformat(str(resource.get("date", ""))[:10])
    except ValueError:
        r.problem("Invoice.date", "INVALID_DATE", "not a date", "YYYY-MM-DD", resource.get("date"))
        issued = date.min
    issuer = _identifier(r, resource.get("issuer"), "Invoice.issuer")
    if issuer and issuer != provider_ods:
        r.problem("Invoice.issuer.identifier.value", "FORBIDDEN_TENANT", "not the sender", provider_ods, issuer)
    trust = _identifier(r, resource.get("recipient"), "Invoice.recipient")
    items = resource.get("lineItem")
    if not isinstance(items, list) or not items or len(items) > MAX_LINES:
        r.problem("Invoice.lineItem", "MISSING_VALUE", "no line items (or too many)", f"1 to {MAX_LINES} line items")
        items = []
    lines = [line for n, item in enumerate(items) if (line := _line(r, n, item)) is not None]
    net = _money(r, resource.get("totalNet"), "Invoice.totalNet")
    gross = _money(r, resource.get("totalGross"), "Invoice.totalGross")
    if r.issues:
        raise InputError(r.issues)
    invoice = BilledInvoice(
        "fhir",
        reference,
        issued,
        provider_ods,
        trust,
        tuple(lines),
        net_pence=net,
        total_pence=gross,
        totals_at=Location(path="Invoice.totalGross"),
    )
    sums = arithmetic_issues(invoice)
    if sums:
        raise InputError(sums)
    return invoice


def _money(r: _Reader, value: object, path: str) -> int | None:
    money = r.obj(value, path)
    if money and money.get("currency") != "GBP":
        r.problem(f"{path}.currency", "INVALID_VALUE", "not pounds sterling", "GBP", money.get("currency"))
    pence = pence_or_none(money.get("value"))
    if money and pence is None:
        r.problem(
            f"{path}.value", "INVALID_AMOUNT", "not an amount", "pounds with at most 2 decimals", money.get("value")
        )
    return pence


def _line(r: _Reader, n: int, value: object) -> BilledLine | None:
    path = f"Invoice.lineItem[{n}]"
    item = r.obj(value, path)
    before = len(r.issues)
    parts = {
        e.get("url"): e
        for ext in dicts(item.get("extension"))
        if ext.get("url") == EXT_INVOICE_LINE
        for e in dicts(ext.get("extension"))
        if isinstance(e, dict)
    }
    ext_path = f"{path}.extension('{EXT_INVOICE_LINE}')"
    sid = r.text(
        dig(parts, "prescription", "valueIdentifier", "value"),
        f"{ext_path}.prescription",
        "the prescription's short-form id",
    ).upper()
    if sid and not is_valid_short_form_id(sid):
        r.problem(
            f"{ext_path}.prescription", "INVALID_PRESCRIPTION_ID", "not a short-form id", "XXXXXX-XXXXXX-XXXXXX", sid
        )
    item_id = dig(parts, "lineItem", "valueIdentifier", "value")
    if item_id is not None and (not isinstance(item_id, str) or not 0 < len(item_id) <= 36):
        r.problem(f"{ext_path}.lineItem", "INVALID_VALUE", "not a line-item id", "the EPS line-item UUID", item_id)
    delivery = dig(parts, "delivery", "valuePositiveInt")
    if delivery is not None and (
        not isinstance(delivery, int) or isinstance(delivery, bool) or not 1 <= delivery <= 999
    ):
        r.problem(f"{ext_path}.delivery", "INVALID_VALUE", "not a delivery number", "1, 2, 3 …", delivery)
        delivery = None
    r.obj(item.get("chargeItemCodeableConcept"), f"{path}.chargeItemCodeableConcept")
    coding = (dicts(dig(item, "chargeItemCodeableConcept", "coding")) or [{}])[0]
    system, code = coding.get("system"), coding.get("code")
    kind = MEDICINE if system == SNOMED else SERVICE if system == SERVICE_CODES else None
    if kind is None or not isinstance(code, str) or not code or len(code) > 40:
        r.problem(
            f"{path}.chargeItemCodeableConcept.coding[0]",
            "INVALID_CODE",
            "not a dm+d or service code",
            f"{SNOMED} or {SERVICE_CODES}",
            code,
        )
    components = {c.get("type"): c for c in dicts(item.get("priceComponent"))}
    base, tax = obj(components.get("base")), obj(components.get("tax"))
    unit = next((c for c in dicts(item.get("priceComponent")) if c.get("type") == "informational"), {})
    pc = f"{path}.priceComponent"
    quantity = quantity_or_none(base.get("factor"))
    if quantity is None:
        r.problem(
            f"{pc}.where(type='base').factor",
            "INVALID_QUANTITY",
            "not a quantity",
            "a positive decimal",
            base.get("factor"),
        )
    net = _money(r, base.get("amount"), f"{pc}.where(type='base').amount")
    unit_price = _money(r, unit.get("amount"), f"{pc}.where(type='informational').amount")
    fraction = tax.get("factor")
    rate = rate_or_none(Decimal(str(fraction)) * 100) if isinstance(fraction, int | Decimal) else None
    if rate is None:
        r.problem(
            f"{pc}.where(type='tax').factor", "INVALID_VALUE", "not a VAT rate", "a fraction, e.g. 0 or 0.2", fraction
        )
    vat = _money(r, tax.get("amount"), f"{pc}.where(type='tax').amount")
    if len(r.issues) > before or quantity is None or rate is None or kind is None:
        return None
    return BilledLine(
        n + 1,
        Location(path=path),
        sid,
        item_id.lower() if isinstance(item_id, str) else None,
        delivery,
        kind,
        str(code),
        quantity,
        unit_price,
        net,
        Decimal(plain(rate)),
        vat,
    )
