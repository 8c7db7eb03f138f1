"""Canonical prescriptions to an Ascribe export document: what the tests and the benchmark feed the adapter.

Input is the canonical model's shape: `HomecarePrescription` objects, or their `model_dump()` dicts (Python or
JSON mode). Whatever the export cannot carry is refused with ValueError rather than silently dropped, so that
writing then parsing gives back the same canonical values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from adapters.ascribe.mapping import FREQUENCY_CODE_RE
from adapters.ascribe.nodes import NAMESPACE, ROOT

_SEX = {"M": "male", "F": "female", "I": "other", "U": "unknown"}
_MAX_LINES = 5  # four Line elements, then City
Canonical = Mapping[str, Any]


def render_export(
    prescriptions: Iterable[Canonical | Any],
    *,
    generated: datetime | str = "2026-11-21T14:10:00+00:00",
    system: str = "Ascribe 9.4",
    trust_ods: str | None = None,
    encoding: str = "UTF-8",
    prefix: str | None = None,
    pretty: bool = True,
) -> bytes:
    """An export of `prescriptions` (all of one trust), with an XML declaration naming `encoding`.

    `prefix` writes the namespace with that prefix (`<hc:HomecareExport xmlns:hc=...>`) instead of as default.
    """
    dicts = [p if isinstance(p, Mapping) else p.model_dump() for p in prescriptions]
    trusts = {str(p["trust_ods"]) for p in dicts}
    if trust_ods is None:
        if len(trusts) != 1:
            raise ValueError(f"an export is from one trust; these prescriptions are from {sorted(trusts)}")
        trust_ods = trusts.pop()
    w = _Writer(prefix)
    root = w.root(generated=_datetime(generated), system=system, trustOds=trust_ods)
    for p in dicts:
        _prescription(w, root, p)
    return bytes(etree.tostring(root, xml_declaration=True, encoding=encoding, pretty_print=pretty))


class _Writer:
    def __init__(self, prefix: str | None) -> None:
        self._ns = f"{{{NAMESPACE}}}"
        self._nsmap = {prefix: NAMESPACE}

    def root(self, **attributes: str) -> etree._Element:
        return etree.Element(f"{self._ns}{ROOT}", attrib=attributes, nsmap=self._nsmap)

    def add(self, parent: etree._Element, name: str, text: object = None, **attributes: object) -> etree._Element:
        """A child element; attributes whose value is None are left out."""
        element = etree.SubElement(parent, f"{self._ns}{name}",
                                   {k: _lexical(v) for k, v in attributes.items() if v is not None})
        if text is not None:
            element.text = _lexical(text)
        return element


def _prescription(w: _Writer, root: etree._Element, p: Canonical) -> None:
    if p.get("site_code"):
        raise ValueError("an Ascribe export has no site code")
    rx = w.add(root, "Prescription", id=p["rx_number"], version=p["rx_version"], action=_text(p["action"]).lower(),
               authored=_datetime(p["signed_at"]))
    _patient(w, w.add(rx, "Patient"), p["patient"], p)
    prescriber = p["prescriber"]
    if prescriber.get("clinic_code"):
        raise ValueError("an Ascribe export has no clinic code")
    element = w.add(rx, "Prescriber")
    w.add(element, "Name", prescriber["name"])
    w.add(element, "Identifier", prescriber["code"], type=_text(prescriber["code_type"]))
    _optional(w, element, "Specialty", prescriber.get("specialty"))
    items = list(p.get("items") or ())
    review_dates = {item.get("review_date") for item in items}
    if len(review_dates) > 1:
        raise ValueError("an Ascribe export has one ReviewDate per prescription, not one per item")
    clinical = w.add(rx, "Clinical")
    w.add(clinical, "Indication", p["indication"], snomed=p.get("indication_snomed"))
    review = review_dates.pop() if review_dates else None
    if review is not None:
        w.add(clinical, "ReviewDate", _date(review))
    if p.get("provider_ods"):
        w.add(rx, "Provider", ods=p["provider_ods"])
    w.add(rx, "Service", type=_text(p["service_type"]).lower().replace("_", "-"))
    if p.get("cancel_reason") is not None:
        w.add(w.add(rx, "Cancellation"), "Reason", p["cancel_reason"])
    if items:
        holder = w.add(rx, "Items")
        for item in items:
            _item(w, holder, item)


def _patient(w: _Writer, element: etree._Element, patient: Canonical, p: Canonical) -> None:
    w.add(element, "NHSNumber", patient["nhs_number"])
    if patient.get("hospital_number") is not None:
        w.add(element, "LocalIdentifier", patient["hospital_number"], system=f"{p['trust_ods']}-MRN")
    name = w.add(element, "Name")
    _optional(w, name, "Prefix", patient.get("title"))
    for given in patient["given"]:
        w.add(name, "Given", given)
    w.add(name, "Family", patient["family"])
    w.add(element, "BirthDate", _date(patient["birth_date"]))
    w.add(element, "Gender", _SEX[_text(patient["sex"])])
    _address(w, element, "home", patient["address"])
    if p.get("delivery_address") is not None:
        _address(w, element, "delivery", p["delivery_address"])
    for system in ("phone", "mobile", "email"):
        if patient.get(system) is not None:
            w.add(element, "Telecom", patient[system], system=system)
    _optional(w, element, "DeliveryNote", p.get("delivery_instructions"))


def _address(w: _Writer, parent: etree._Element, use: str, address: Canonical) -> None:
    lines = list(address["lines"])
    if not 1 <= len(lines) <= _MAX_LINES:
        raise ValueError(f"an Ascribe address has 1 to 4 lines and a city, not {len(lines)} lines")
    element = w.add(parent, "Address", use=use)
    for line in lines[:4]:
        w.add(element, "Line", line)
    _optional(w, element, "City", lines[4] if len(lines) == _MAX_LINES else None)
    w.add(element, "PostalCode", address["postcode"])


def _item(w: _Writer, holder: etree._Element, item: Canonical) -> None:
    element = w.add(holder, "Item", line=item["line_no"], ancillary="true" if item.get("is_ancillary") else None)
    w.add(element, "Medicine", item["description"], dmd=item["dmd_code"])
    if item.get("dose") is not None:
        w.add(element, "Dose", value=_decimal(item["dose"]), unit=item["dose_unit"])
    frequency = item.get("frequency")
    if frequency is not None:
        if FREQUENCY_CODE_RE.fullmatch(frequency):
            w.add(element, "Frequency", code=frequency)
        else:
            w.add(element, "Frequency", frequency)
    _optional(w, element, "Route", item.get("route"))
    w.add(element, "Supply", quantity=_decimal(item["qty_per_delivery"]), unit=item["qty_unit"],
          days=item["days_per_delivery"])
    first = item.get("first_delivery_date")
    w.add(element, "Deliveries", count=item["number_of_deliveries"], first=None if first is None else _date(first))
    _optional(w, element, "Instructions", item.get("instructions"))


def _optional(w: _Writer, parent: etree._Element, name: str, text: object) -> None:
    if text is not None:
        w.add(parent, name, text)


def _text(value: object) -> str:
    return str(value)


def _lexical(value: object) -> str:
    if isinstance(value, float):
        raise TypeError("floats are refused: doses and quantities are Decimal or text")
    return str(value)


def _decimal(value: Decimal | str) -> str:
    """Plain notation (`1E+1` → `10`): xs:decimal has no exponent. Never via float."""
    if isinstance(value, float):
        raise TypeError("floats are refused: doses and quantities are Decimal or text")
    return format(Decimal(value), "f")


def _date(value: date | str) -> str:
    return value.isoformat() if isinstance(value, date) else value


def _datetime(value: datetime | str) -> str:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("an Ascribe export needs date-times with a UTC offset")
        return value.isoformat()
    return value
