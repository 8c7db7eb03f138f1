"""One `Prescription` element to the canonical model, with the rules the schema cannot express.

Those rules: NHS number Modulus 11, dm+d and SNOMED CT Verhoeff check digits, UK postcodes, the prescriber
number's format for its register, no birth date in the future, the home Address first and the delivery one
second, a Dose unless the item is ancillary, Frequency as a code or as text, a Cancellation exactly when the
action is cancel, Items unless it is, and no amend of version 1.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from pydantic import ValidationError

from adapters.ascribe import issues as codes
from adapters.ascribe.reader import Checker, Element
from adapters.jac.rows import split_prescriber_name
from gateway.domain.model import Action, HomecarePrescription, RegisterCodeType, ServiceType, Sex

SOURCE_FORMAT = "ascribe"
# Each part is gathered as plain data and the whole prescription validated once, as the JAC adapter does.
Data = dict[str, object]

ACTIONS = {"new": Action.NEW, "amend": Action.AMEND, "cancel": Action.CANCEL}
GENDERS = {"male": Sex.MALE, "female": Sex.FEMALE, "other": Sex.INDETERMINATE, "unknown": Sex.UNKNOWN}
SERVICES = {"delivery": ServiceType.DELIVERY, "delivery-nursing": ServiceType.DELIVERY_NURSING,
            "delivery-training": ServiceType.DELIVERY_TRAINING}
CODE_TYPES = {member.value: member for member in RegisterCodeType}
BOOLEANS = {"true": True, "false": False}
TELECOM_SYSTEMS = {"phone": "phone", "mobile": "mobile", "email": "email"}
FREQUENCY_CODE_RE = re.compile(r"OD|BD|TDS|QDS|OW|STAT|PRN|EVERY [1-9][0-9]{0,2} (?:DAYS|WEEKS)")
_ID_RE = re.compile(r"[A-Z0-9-]{1,20}")
_MAX_ADDRESS_LINES = 4
_UNLESS_ANCILLARY = "is mandatory unless the item is ancillary"
_UNLESS_CANCEL = "is mandatory unless action is cancel"


def read_prescription(rx: Element, c: Checker, trust_ods: str, today: date) -> HomecarePrescription | None:
    """The canonical prescription, or None when anything is wrong (each fault recorded on `c`)."""
    action = c.choice(rx.attribute("action"), ACTIONS)
    version_field = rx.attribute("version")
    data: Data = {
        "action": action,
        "trust_ods": trust_ods,
        "rx_number": c.pattern(rx.attribute("id"), _ID_RE, codes.INVALID_FORMAT),
        "rx_version": c.integer(version_field, 1),
        "signed_at": c.datetime(rx.attribute("authored")),
    }
    if action is Action.AMEND and data["rx_version"] == 1:
        c.fail(version_field, codes.INVALID_VERSION, "an amend replaces an earlier version, so it cannot be version 1",
               "integer >= 2 when action is amend")
    patient = c.element(rx, "Patient")
    prescriber = c.element(rx, "Prescriber")
    clinical = c.element(rx, "Clinical")
    review_date = None if clinical is None else c.date(clinical.text("ReviewDate"), required=False)
    data.update(_patient(patient, c, today) if patient else {})
    data["prescriber"] = _prescriber(prescriber, c) if prescriber else None
    if clinical is not None:
        indication = clinical.one("Indication")
        data["indication"] = c.text(clinical.text("Indication"))
        data["indication_snomed"] = None if indication is None else c.snomed(
            indication.attribute("snomed"), codes.INVALID_SNOMED_CODE, required=False)
    provider = rx.one("Provider")
    data["provider_ods"] = None if provider is None else c.ods(provider.attribute("ods"))
    service = c.element(rx, "Service")
    data["service_type"] = None if service is None else c.choice(service.attribute("type"), SERVICES)
    data["cancel_reason"] = _cancel_reason(rx, c, action)
    data["items"] = _items(rx, c, action, review_date)
    data["source_format"] = SOURCE_FORMAT
    if c.failed:
        return None
    try:
        return HomecarePrescription.model_validate(data)
    except ValidationError as exc:  # the checks above are meant to make this unreachable
        c.fail(rx.itself(), codes.INVALID_PRESCRIPTION, f"the prescription does not fit the canonical model: {exc}")
        return None


def _patient(p: Element, c: Checker, today: date) -> Data:
    local_id = p.one("LocalIdentifier")
    patient: Data = {
        "nhs_number": c.nhs_number(p.text("NHSNumber")),
        "hospital_number": None if local_id is None else c.text(local_id.own_text()),
        "birth_date": c.date(p.text("BirthDate"), today=today),
        "sex": c.choice(p.text("Gender"), GENDERS),
    }
    name = c.element(p, "Name")
    if name is not None:
        givens = name.all("Given")
        if not givens:
            c.missing(name.absent("Given"))
        patient["title"] = c.text(name.text("Prefix"), required=False)
        patient["given"] = tuple(c.text(given.own_text()) for given in givens)
        patient["family"] = c.text(name.text("Family"))
    addresses = p.all("Address")
    if not addresses:
        c.missing(p.absent("Address"))
    delivery: Data | None = None
    for position, address in enumerate(addresses):
        use = ("home", "delivery")[position] if position < 2 else None
        if use is None:
            c.fail(address.itself("Address"), codes.UNEXPECTED_ELEMENT, "a patient has at most two Address elements: "
                   "home, then delivery", "at most two Address elements")
            continue
        use_field = address.attribute("use")
        seen = c.text(use_field)
        if seen is not None and seen != use:
            c.fail(use_field, codes.INVALID_CODE, f"Address {position + 1} must have use=\"{use}\" (the home "
                   "address first, an optional delivery address second)")
        if use == "home":
            patient["address"] = _address(address, c)
        else:
            delivery = _address(address, c)
    patient.update(_telecoms(p, c))
    return {"patient": patient, "delivery_address": delivery,
            "delivery_instructions": c.text(p.text("DeliveryNote"), required=False)}


def _address(a: Element, c: Checker) -> Data:
    lines = a.all("Line")
    if not lines:
        c.missing(a.absent("Line"))
    for extra in lines[_MAX_ADDRESS_LINES:]:
        c.fail(extra.itself("Line"), codes.UNEXPECTED_ELEMENT, f"an Address has at most {_MAX_ADDRESS_LINES} Line "
               "elements", "Line (1 to 4)")
    texts = [c.text(line.own_text()) for line in lines]
    texts.append(c.text(a.text("City"), required=False))
    return {"lines": tuple(text for text in texts if text), "postcode": c.postcode(a.text("PostalCode"))}


def _telecoms(p: Element, c: Checker) -> Data:
    """The first phone, mobile and email; a second of the same kind has no place in the canonical model."""
    found: Data = {}
    for telecom in p.all("Telecom"):
        system = c.choice(telecom.attribute("system"), TELECOM_SYSTEMS)
        value = c.text(telecom.own_text())
        if system is None or value is None:
            continue
        if system in found:
            c.fail(telecom.own_text(), codes.EXTRA_TELECOM, f"a second {system} Telecom is ignored: only the first "
                   "is kept", f"one Telecom per system ({system})", severity="warning")
            continue
        found[system] = value
    return {"phone": found.get("phone"), "mobile": found.get("mobile"), "email": found.get("email")}


def _prescriber(pr: Element, c: Checker) -> Data:
    name = c.text(pr.text("Name"))
    identifier = c.element(pr, "Identifier")
    code_type = code = None
    if identifier is not None:
        code_type = c.choice(identifier.attribute("type"), CODE_TYPES)
        code = c.prescriber_code(identifier.own_text(), code_type)
    family, given = split_prescriber_name(name) if name else (None, None)
    return {"name": name, "family": family, "given": given, "code": code, "code_type": code_type,
            "specialty": c.text(pr.text("Specialty"), required=False)}


def _cancel_reason(rx: Element, c: Checker, action: Action | None) -> str | None:
    if action is Action.CANCEL:
        found = c.element(rx, "Cancellation", "is mandatory when action is cancel")
        return None if found is None else c.text(found.text("Reason"), why="is mandatory when action is cancel")
    cancellation = rx.one("Cancellation")
    if cancellation is not None and action is not None:
        c.fail(cancellation.itself("Cancellation"), codes.UNEXPECTED_ELEMENT, "Cancellation is only allowed when "
               f"action is cancel, not {action.value.lower()}", "no Cancellation unless action is cancel")
    return None


def _items(rx: Element, c: Checker, action: Action | None, review_date: date | None) -> list[Data]:
    holder = rx.one("Items")
    elements = [] if holder is None else holder.all("Item")
    if not elements and action is not Action.CANCEL and action is not None:
        if holder is None:
            c.missing(rx.absent("Items"), _UNLESS_CANCEL)
        else:
            c.fail(holder.itself(), codes.MISSING_VALUE, f"Items holds no Item; at least one {_UNLESS_CANCEL}")
    items: list[Data] = []
    lines: dict[int, int] = {}
    for position, element in enumerate(elements, 1):
        item = _item(element, c, review_date)
        line_no = item["line_no"]
        if isinstance(line_no, int) and line_no in lines:
            c.fail(element.attribute("line"), codes.DUPLICATE_LINE_NO, f"line {line_no} is already used by "
                   f"Item[{lines[line_no]}] of this prescription")
        elif isinstance(line_no, int):
            lines[line_no] = position
        items.append(item)
    return sorted(items, key=lambda item: item["line_no"] if isinstance(item["line_no"], int) else 0)


def _item(item: Element, c: Checker, review_date: date | None) -> Data:
    flag = c.choice(item.attribute("ancillary"), BOOLEANS, required=False)
    ancillary = bool(flag)
    # With an unreadable ancillary flag, whether a Dose is needed is unknown: only that flag is reported.
    needs_dose = flag is False or (flag is None and item.el.get("ancillary") is None)
    data: Data = {"line_no": c.integer(item.attribute("line"), 1), "is_ancillary": ancillary,
                  "review_date": review_date}
    medicine = c.element(item, "Medicine")
    if medicine is not None:
        data["dmd_code"] = c.snomed(medicine.attribute("dmd"), codes.INVALID_DMD_CODE)
        data["description"] = c.text(medicine.own_text())
    dose = c.element(item, "Dose", _UNLESS_ANCILLARY) if needs_dose else item.one("Dose")
    if dose is not None:
        data["dose"] = c.decimal(dose.attribute("value"), low=Decimal(0), inclusive=True)
        data["dose_unit"] = c.text(dose.attribute("unit"))
    data["frequency"] = _frequency(item.one("Frequency"), c)
    data["route"] = c.text(item.text("Route"), required=False)
    supply = c.element(item, "Supply")
    if supply is not None:
        data["qty_per_delivery"] = c.decimal(supply.attribute("quantity"), low=Decimal(0), inclusive=False)
        data["qty_unit"] = c.text(supply.attribute("unit"))
        data["days_per_delivery"] = c.integer(supply.attribute("days"), 1, 365)
    deliveries = c.element(item, "Deliveries")
    if deliveries is not None:
        data["number_of_deliveries"] = c.integer(deliveries.attribute("count"), 1, 52)
        data["first_delivery_date"] = c.date(deliveries.attribute("first"), required=False)
    data["instructions"] = c.text(item.text("Instructions"), required=False)
    return data


def _frequency(frequency: Element | None, c: Checker) -> str | None:
    """The code attribute when there is one, else the text: free text is carried as text only."""
    if frequency is None:
        return None
    if frequency.el.get("code") is not None:
        return c.pattern(frequency.attribute("code"), FREQUENCY_CODE_RE, codes.INVALID_CODE)
    text = frequency.own_text()
    if not text.value:
        c.fail(text, codes.MISSING_VALUE, "Frequency has neither a code attribute nor text",
               "a code attribute, or free text")
    return text.value or None
