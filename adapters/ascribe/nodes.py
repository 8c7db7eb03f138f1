"""The export's elements and attributes (spec v2.0): what the spec expects of each, and how paths to them read.

Paths are XPath-like, as the spec's example: `Prescription[3]/Items/Item[2]/Supply/@quantity`, relative to the
root for anything inside a prescription, absolute (`/HomecareExport/@trustOds`) on the root itself. Repeatable
elements always carry their position among same-named siblings; others only when they are repeated by mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.ascribe import issues as codes

NAMESPACE = "urn:ascribe:homecare:export:2"
NS = f"{{{NAMESPACE}}}"
ROOT = "HomecareExport"
ROOT_PATH = f"/{ROOT}"
PRESCRIPTION = "Prescription"
REPEATABLE = frozenset({"Prescription", "Given", "Address", "Line", "Telecom", "Item"})


@dataclass(frozen=True, slots=True)
class Node:
    expected: str
    invalid_code: str  # the code of a value the schema refuses for its form


_TEXT = Node("text", codes.INVALID_FORMAT)
_DATE = "date as YYYY-MM-DD (xs:date)"
_DATETIME = "date and time with a UTC offset (xs:dateTime, e.g. 2026-11-21T14:02:11+00:00)"
_ODS = "ODS organisation code: 3, 5 or 6 of A-Z and 0-9"
_SNOMED = "6-18 digits with a Verhoeff check digit"

# Generic paths (positions left out), in the spec's order: issues of one line are sorted by it.
NODES: dict[str, Node] = {
    f"{ROOT_PATH}/@generated": Node(_DATETIME, codes.INVALID_DATETIME),
    f"{ROOT_PATH}/@system": _TEXT,
    f"{ROOT_PATH}/@trustOds": Node(f"{_ODS} (e.g. RTH)", codes.INVALID_ODS_CODE),
    "Prescription": Node("Patient, Prescriber, Clinical, Provider?, Service, Cancellation?, Items",
                         codes.INVALID_CONTENT),
    "Prescription/@id": Node("1-20 characters of A-Z, 0-9 and - (e.g. OXF-HC-88121)", codes.INVALID_FORMAT),
    "Prescription/@version": Node("integer >= 1", codes.INVALID_INTEGER),
    "Prescription/@action": Node("new, amend or cancel", codes.INVALID_CODE),
    "Prescription/@authored": Node(_DATETIME, codes.INVALID_DATETIME),
    "Prescription/Patient": Node("NHSNumber, LocalIdentifier?, Name, BirthDate, Gender, Address, Address?, Telecom*, "
                                 "DeliveryNote?", codes.INVALID_CONTENT),
    "Prescription/Patient/NHSNumber": Node("10 digits, no spaces, with a valid Modulus 11 check digit",
                                           codes.INVALID_NHS_NUMBER),
    "Prescription/Patient/LocalIdentifier": _TEXT,
    "Prescription/Patient/LocalIdentifier/@system": _TEXT,
    "Prescription/Patient/Name": Node("Prefix?, Given (one or more), Family", codes.INVALID_CONTENT),
    "Prescription/Patient/Name/Prefix": _TEXT,
    "Prescription/Patient/Name/Given": _TEXT,
    "Prescription/Patient/Name/Family": _TEXT,
    "Prescription/Patient/BirthDate": Node(f"{_DATE}, not in the future", codes.INVALID_DATE),
    "Prescription/Patient/Gender": Node("male, female, other or unknown", codes.INVALID_CODE),
    "Prescription/Patient/Address": Node("Line (1 to 4), City?, PostalCode", codes.INVALID_CONTENT),
    "Prescription/Patient/Address/@use": Node("home on the first Address, delivery on the second", codes.INVALID_CODE),
    "Prescription/Patient/Address/Line": _TEXT,
    "Prescription/Patient/Address/City": _TEXT,
    "Prescription/Patient/Address/PostalCode": Node("UK postcode (e.g. OX3 9DU)", codes.INVALID_POSTCODE),
    "Prescription/Patient/Telecom": _TEXT,
    "Prescription/Patient/Telecom/@system": Node("phone, mobile or email", codes.INVALID_CODE),
    "Prescription/Patient/DeliveryNote": _TEXT,
    "Prescription/Prescriber": Node("Name, Identifier, Specialty?", codes.INVALID_CONTENT),
    "Prescription/Prescriber/Name": _TEXT,
    "Prescription/Prescriber/Identifier": Node("professional registration number", codes.INVALID_PRESCRIBER_CODE),
    "Prescription/Prescriber/Identifier/@type": Node("GMC, NMC, GPHC or HCPC", codes.INVALID_CODE),
    "Prescription/Prescriber/Specialty": _TEXT,
    "Prescription/Clinical": Node("Indication, ReviewDate?", codes.INVALID_CONTENT),
    "Prescription/Clinical/Indication": _TEXT,
    "Prescription/Clinical/Indication/@snomed": Node(f"SNOMED CT concept id: {_SNOMED}", codes.INVALID_SNOMED_CODE),
    "Prescription/Clinical/ReviewDate": Node(_DATE, codes.INVALID_DATE),
    "Prescription/Provider": Node("Provider with an ods attribute", codes.INVALID_CONTENT),
    "Prescription/Provider/@ods": Node(f"{_ODS} (e.g. FTX40)", codes.INVALID_ODS_CODE),
    "Prescription/Service": Node("Service with a type attribute", codes.INVALID_CONTENT),
    "Prescription/Service/@type": Node("delivery, delivery-nursing or delivery-training", codes.INVALID_CODE),
    "Prescription/Cancellation": Node("Cancellation with a Reason, only when action is cancel", codes.INVALID_CONTENT),
    "Prescription/Cancellation/Reason": _TEXT,
    "Prescription/Items": Node("one or more Item, unless action is cancel", codes.INVALID_CONTENT),
    "Prescription/Items/Item": Node("Medicine, Dose?, Frequency?, Route?, Supply, Deliveries, Instructions?",
                                    codes.INVALID_CONTENT),
    "Prescription/Items/Item/@line": Node("integer >= 1, unique within the prescription", codes.INVALID_INTEGER),
    "Prescription/Items/Item/@ancillary": Node("true or false", codes.INVALID_CODE),
    "Prescription/Items/Item/Medicine": Node("text: the dm+d description", codes.INVALID_FORMAT),
    "Prescription/Items/Item/Medicine/@dmd": Node(f"dm+d VMP or AMP concept id: {_SNOMED}", codes.INVALID_DMD_CODE),
    "Prescription/Items/Item/Dose": Node("Dose with value and unit attributes, mandatory unless ancillary",
                                         codes.INVALID_CONTENT),
    "Prescription/Items/Item/Dose/@value": Node("decimal >= 0 written like 0.4", codes.INVALID_DECIMAL),
    "Prescription/Items/Item/Dose/@unit": Node("text (e.g. mg)", codes.INVALID_FORMAT),
    "Prescription/Items/Item/Frequency": Node("a code attribute, or free text", codes.INVALID_FORMAT),
    "Prescription/Items/Item/Frequency/@code": Node("OD, BD, TDS, QDS, OW, STAT, PRN, EVERY n DAYS or EVERY n WEEKS",
                                                    codes.INVALID_CODE),
    "Prescription/Items/Item/Route": _TEXT,
    "Prescription/Items/Item/Supply": Node("Supply with quantity, unit and days attributes", codes.INVALID_CONTENT),
    "Prescription/Items/Item/Supply/@quantity": Node("decimal > 0 written like 0.4", codes.INVALID_DECIMAL),
    "Prescription/Items/Item/Supply/@unit": Node("text (e.g. pre-filled syringe)", codes.INVALID_FORMAT),
    "Prescription/Items/Item/Supply/@days": Node("integer 1-365", codes.INVALID_INTEGER),
    "Prescription/Items/Item/Deliveries": Node("Deliveries with a count attribute", codes.INVALID_CONTENT),
    "Prescription/Items/Item/Deliveries/@count": Node("integer 1-52", codes.INVALID_INTEGER),
    "Prescription/Items/Item/Deliveries/@first": Node(_DATE, codes.INVALID_DATE),
    "Prescription/Items/Item/Instructions": _TEXT,
}
_RANK = {key: i for i, key in enumerate(NODES)}
_POSITION_RE = re.compile(r"\[[0-9]+\]")


def generic(path: str) -> str:
    """`Prescription[3]/Items/Item[2]/@line` → `Prescription/Items/Item/@line`: the key of NODES."""
    return _POSITION_RE.sub("", path)


def node(key: str) -> Node | None:
    return NODES.get(key)


def expected(key: str) -> str | None:
    found = NODES.get(key)
    return None if found is None else found.expected


def attributes_of(key: str) -> list[str]:
    """The attributes the spec gives an element: `Prescription/Items/Item` → `line`, `ancillary`."""
    prefix = f"{key}/@"
    return [name[len(prefix):] for name in NODES if name.startswith(prefix)]


def rank(path: str | None) -> int:
    return _RANK.get(generic(path or ""), len(_RANK))


def step(name: str, position: int, same_named: int) -> str:
    """One step of a path: `Item[2]`, or `Patient` for a single element of a kind that does not repeat."""
    if name in REPEATABLE or same_named > 1:
        return f"{name}[{position}]"
    return name


def local_name(tag: str) -> str:
    """`{urn:...}Supply` → `Supply`."""
    return tag.rpartition("}")[2]
