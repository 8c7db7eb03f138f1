"""Reading an EPS dispense-notification: each MedicationDispense's line item, status, product and reason, and the
notification's outcome per line item (several products for one line item are one outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.domain import states as lifecycle
from gateway.fhir.inbound import SHORT_FORM_SYSTEM, fail, require
from gateway.fhir.task_fields import as_dict, as_list

BUSINESS_STATUS_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-TaskBusinessStatus"
NON_DISPENSING_REASON_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionNonDispensingReason"
REPLACEMENT_OF_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-replacementOf"
ITEM_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/prescription-order-item-number"
STATUS_REASON_SYSTEM = "https://fhir.nhs.uk/CodeSystem/medicationdispense-status-reason"


@dataclass(frozen=True, slots=True)
class DispensedLine:
    short_form_id: str
    item_id: str
    item_status: str
    prescription_status: str | None
    quantity: str | None


@dataclass(frozen=True, slots=True)
class Product:
    """One product supplied against a line item: dm+d code and quantity, as the MedicationDispense gave them."""

    code: str | None
    quantity: str | None
    unit: str | None

    def describe(self) -> str:
        amount = " ".join(x for x in (self.quantity, self.unit) if x) or "?"
        return f"{amount} of {self.code}" if self.code else amount


@dataclass(frozen=True, slots=True)
class Dispensed:
    """One MedicationDispense read: its line, product and (not dispensed, owing) reason."""

    line: DispensedLine
    path: str
    product: Product
    reason: str | None


@dataclass(frozen=True, slots=True)
class LineOutcome:
    item_id: str
    status: str
    products: tuple[Product, ...]
    reason: str | None

    def describe(self, line_no: int) -> str:
        text = f"line {line_no}: {lifecycle.ITEM_STATUS[self.status]}"
        supplied = [p for p in self.products if p.quantity not in (None, "0")]
        if len(supplied) == 1 and supplied[0].quantity is not None:
            text += f", quantity {supplied[0].quantity}"
        elif len(supplied) > 1:
            text += f", {len(supplied)} products: " + " + ".join(p.describe() for p in supplied)
        return text + (f" (reason {self.reason})" if self.reason else "")


@dataclass(frozen=True, slots=True)
class Notice:
    """A dispense notification read: one prescription, an outcome per line item it names."""

    short_form_id: str
    lines: dict[str, LineOutcome]
    declared: str | None
    replaces: str | None
    bundle_id: str | None
    bundle_identifier: str | None


def read_dispenses(resources: list[dict[str, Any]], full_urls: list[str | None] | None = None) -> list[DispensedLine]:
    """One DispensedLine per MedicationDispense, resolving authorizingPrescription (contained or in the bundle).

    Bundle references resolve by each entry's fullUrl when given, else by `urn:uuid:<id>`.
    """
    return [d.line for d in read_medication_dispenses(resources, full_urls)]


def read_medication_dispenses(
    resources: list[dict[str, Any]], full_urls: list[str | None] | None = None
) -> list[Dispensed]:
    urls = full_urls or [None] * len(resources)
    by_ref: dict[str, dict[str, Any]] = {}
    for url, r in zip(urls, resources, strict=True):
        if url:
            by_ref[url] = r
        if isinstance(r.get("id"), str):
            by_ref.setdefault(f"urn:uuid:{r['id']}", r)
    found = []
    for index, res in enumerate(resources):
        if res.get("resourceType") == "MedicationDispense":
            found.append(_read_one(res, f"Bundle.entry[{index}].resource", by_ref))
    if not found:
        raise fail(
            "Bundle.entry",
            "a dispense-notification carries at least one MedicationDispense",
            code="MISSING_VALUE",
            expected="MedicationDispense",
        )
    return found


def _read_one(res: dict[str, Any], path: str, by_ref: dict[str, dict[str, Any]]) -> Dispensed:
    contained = {f"#{c.get('id')}": c for c in res.get("contained", []) if isinstance(c, dict)}
    auth = require(res, "authorizingPrescription", path, list)[0]
    ref = auth.get("reference") if isinstance(auth, dict) else None
    request = contained.get(ref or "") or by_ref.get(ref or "")
    if request is None:
        raise fail(
            f"{path}.authorizingPrescription[0].reference",
            "authorizingPrescription does not resolve",
            code="INVALID_REFERENCE",
            value=ref,
        )
    group = require(request, "groupIdentifier", f"{path}.authorizingPrescription.resolve()")
    if group.get("system") != SHORT_FORM_SYSTEM:
        raise fail(
            f"{path}.authorizingPrescription.resolve().groupIdentifier.system",
            "groupIdentifier must be the short-form prescription id",
            value=group.get("system"),
            expected=SHORT_FORM_SYSTEM,
        )
    idents = as_list(request.get("identifier"))
    item_ids = [i.get("value") for i in idents if isinstance(i, dict) and i.get("system") == ITEM_NUMBER_SYSTEM]
    if not item_ids:
        raise fail(
            f"{path}.authorizingPrescription.resolve().identifier",
            "the line-item id is missing",
            code="MISSING_VALUE",
            expected=ITEM_NUMBER_SYSTEM,
        )
    codings = require(res, "type", path).get("coding") or [{}]
    item_status = codings[0].get("code") if isinstance(codings[0], dict) else None
    if item_status not in lifecycle.ITEM_STATUS:
        raise fail(
            f"{path}.type.coding[0].code",
            "unknown dispense type",
            value=item_status,
            expected=", ".join(lifecycle.ITEM_STATUS),
        )
    business = None
    reason = None
    for ext in (e for e in as_list(res.get("extension")) if isinstance(e, dict)):
        coding = as_dict(ext.get("valueCoding"))
        if ext.get("url") == BUSINESS_STATUS_URL:
            business = coding.get("code")
        elif ext.get("url") == NON_DISPENSING_REASON_URL:
            reason = _describe_coding(coding)
    if business is not None and business not in lifecycle.PRESCRIPTION_STATUS:
        raise fail(
            f"{path}.extension('{BUSINESS_STATUS_URL}').valueCoding.code",
            "unknown prescription status",
            value=business,
            expected=", ".join(lifecycle.PRESCRIPTION_STATUS),
        )
    status_reasons = as_list(as_dict(res.get("statusReasonCodeableConcept")).get("coding"))
    reason = next((_describe_coding(c) for c in status_reasons if isinstance(c, dict)), reason)
    quantity = as_dict(res.get("quantity"))
    value = quantity.get("value")
    first = as_dict(next(iter(as_list(as_dict(res.get("medicationCodeableConcept")).get("coding"))), None))
    product = Product(_text(first.get("code")), None if value is None else str(value), _text(quantity.get("unit")))
    line = DispensedLine(str(group.get("value")), str(item_ids[0]), item_status, business, product.quantity)
    return Dispensed(line, path, product, reason)


def _describe_coding(coding: dict[str, Any]) -> str | None:
    code = _text(coding.get("code"))
    if code is None:
        return None
    display = _text(coding.get("display"))
    return f"{code} {display}" if display else code


def _text(value: Any) -> str | None:
    return value[:80] if isinstance(value, str) and value else None


def read_notice(resources: list[dict[str, Any]], full_urls: list[str | None] | None, bundle: Any) -> Notice:
    """The notification's outcome per line item. Several MedicationDispense for one line (several products) must
    agree on its status; a line not dispensed (0002) says why; a notification is about one prescription."""
    dispensed = read_medication_dispenses(resources, full_urls)
    prescriptions = {d.line.short_form_id for d in dispensed}
    if len(prescriptions) > 1:
        raise fail(
            "Bundle.entry",
            "a dispense-notification is about one prescription",
            value=", ".join(sorted(prescriptions)),
            expected="one short-form prescription id",
        )
    lines: dict[str, LineOutcome] = {}
    declared: str | None = None
    for d in dispensed:
        if d.line.item_status not in lifecycle.DISPENSE_OUTCOMES:
            raise fail(
                f"{d.path}.type.coding[0].code",
                "not a dispensing outcome",
                value=d.line.item_status,
                expected=", ".join(sorted(lifecycle.DISPENSE_OUTCOMES)),
            )
        if d.line.item_status == lifecycle.ITEM_NOT_DISPENSED and d.reason is None:
            raise fail(
                f"{d.path}.statusReasonCodeableConcept",
                "a line item not dispensed says why",
                code="MISSING_VALUE",
                expected=f"a coding from {STATUS_REASON_SYSTEM}",
            )
        declared = declared or d.line.prescription_status
        earlier = lines.get(d.line.item_id)
        if earlier is None:
            lines[d.line.item_id] = LineOutcome(d.line.item_id, d.line.item_status, (d.product,), d.reason)
        elif earlier.status != d.line.item_status:
            raise fail(
                f"{d.path}.type.coding[0].code",
                "the MedicationDispense resources of one line item disagree on its status",
                value=d.line.item_status,
                expected=earlier.status,
            )
        else:
            lines[d.line.item_id] = LineOutcome(
                earlier.item_id, earlier.status, (*earlier.products, d.product), earlier.reason or d.reason
            )
    identifier = bundle.get("identifier") if isinstance(bundle, dict) else None
    return Notice(
        short_form_id=dispensed[0].line.short_form_id,
        lines=lines,
        declared=declared,
        replaces=_replacement_of(resources[0] if resources else {}),
        bundle_id=_text(bundle.get("id")) if isinstance(bundle, dict) else None,
        bundle_identifier=_text(identifier.get("value")) if isinstance(identifier, dict) else None,
    )


def _replacement_of(header: dict[str, Any]) -> str | None:
    for index, ext in enumerate(as_list(header.get("extension"))):
        if isinstance(ext, dict) and ext.get("url") == REPLACEMENT_OF_URL:
            ident = ext.get("valueIdentifier")
            value = ident.get("value") if isinstance(ident, dict) else None
            if not isinstance(value, str) or not value:
                raise fail(
                    f"Bundle.entry[0].resource.extension[{index}].valueIdentifier.value",
                    "replacementOf names the notification it amends",
                    code="MISSING_VALUE",
                )
            return value
    return None
