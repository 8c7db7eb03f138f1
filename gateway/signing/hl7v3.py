"""HL7 v3 elements as EPS's coordinator writes them, for rebuilding what a prescriber signed (`fragments`).

Restates `services/translation/request/demographics.ts` (names, addresses, telecoms and their uses),
`common/dateTime.ts` (timestamps in UTC, YYYYMMDDHHMMSS) and the identifier and code classes of
`packages/models/hl7-v3/` (NHSDigital/electronic-prescription-service-api). Elements are in the HL7 v3 namespace;
an attribute EPS leaves undefined is left out; tabs and line breaks in attributes become spaces, as EPS writes them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from gateway.signing.exceptions import FragmentError

HL7 = "urn:hl7-org:v3"
SNOMED_OID = "2.16.840.1.113883.2.1.3.2.4.15"
ANNOTATION_OID = "2.16.840.1.113883.2.1.3.2.4.17.30"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
NOT_SPECIFIED_ORGANISATION_TYPE = "999"
UUID = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}", re.IGNORECASE)
# demographics.ts: FHIR use → HL7 v3 use; a use not listed is refused by EPS
NAME_USE = {"usual": "L", "official": "L", "temp": "A", "anonymous": "A", "nickname": "PREF", "old": "PREV"}
ADDRESS_USE = {"home": "H", "work": "WP", "temp": "TMP", "billing": "PST"}
TELECOM_USE = {"home": "HP", "work": "WP", "temp": "TMP", "mobile": "MC"}


def hl7_root(parent: etree._Element, tag: str) -> etree._Element:
    """A fragment's root: an HL7 v3 element declaring the namespace, as EPS's namespacedCopyOf does."""
    return etree.SubElement(parent, f"{{{HL7}}}{tag}", nsmap={None: HL7})


def sub(parent: etree._Element, tag: str, **attributes: object) -> etree._Element:
    """A child element; attributes that are None are left out, as xml-js leaves undefined ones out."""
    element = etree.SubElement(parent, f"{{{HL7}}}{tag}")
    for key, value in attributes.items():
        if value is not None:
            element.set(key, " ".join(str(value).replace("\r\n", "\n").split("\n")).replace("\t", " "))
    return element


def snomed(parent: etree._Element, tag: str, code: object, display: object = None) -> etree._Element:
    return sub(parent, tag, codeSystem=SNOMED_OID, code=code, displayName=display)


def annotation(item: etree._Element, relation: str, tag: str, code: str) -> etree._Element:
    link = sub(item, relation, typeCode="PERT", contextConductionInd="true")
    sub(link, "seperatableInd", value="false")
    out = sub(link, tag, classCode="OBS", moodCode="EVN")
    sub(out, "code", codeSystem=ANNOTATION_OID, code=code)
    return out


def text_value(text: str) -> etree._Element:
    element = etree.Element(f"{{{HL7}}}value")
    element.text = text
    return element


def write_organisation(parent: etree._Element, tag: str, source: Mapping[str, Any], kind: str) -> etree._Element:
    out = sub(parent, tag, classCode="ORG", determinerCode="INSTANCE")
    ods = identifier(source.get("identifier"), ODS_SYSTEM)
    if ods is None:
        raise FragmentError(f"{kind}.identifier", "no ODS code")
    sub(out, "id", root="1.2.826.0.1285.0.1.10", extension=ods)
    sub(out, "code", codeSystem="2.16.840.1.113883.2.1.3.2.4.17.94", code=NOT_SPECIFIED_ORGANISATION_TYPE)
    if not source.get("name"):
        raise FragmentError(f"{kind}.name", "Name must be provided")
    sub(out, "name").text = str(source["name"])
    return out


def write_name(parent: etree._Element, name: Mapping[str, Any]) -> None:
    out = sub(parent, "name", use=use_code(NAME_USE, name, "HumanName"))
    family = [name["family"]] if name.get("family") else []
    for tag, values in (("prefix", name.get("prefix")), ("given", name.get("given")), ("family", family),
                        ("suffix", name.get("suffix"))):  # fmt: skip
        for value in values or []:
            sub(out, tag).text = str(value)


def write_address(parent: etree._Element, address: Mapping[str, Any]) -> None:
    out = sub(parent, "addr", use=use_code(ADDRESS_USE, address, "Address"))
    lines = [*(address.get("line") or []), *(address.get(k) for k in ("city", "district", "state") if address.get(k))]
    for line in lines:
        sub(out, "streetAddressLine").text = str(line)
    if address.get("postalCode"):
        sub(out, "postalCode").text = str(address["postalCode"])


def write_telecom(parent: etree._Element, telecom: Mapping[str, Any]) -> None:
    value = "".join(str(telecom.get("value") or "").split())  # every system is written as tel:, as EPS does
    if value and not value.startswith("tel:"):
        value = f"tel:{value}"
    sub(parent, "telecom", use=use_code(TELECOM_USE, telecom, "ContactPoint"), value=value or None)


def use_code(table: Mapping[str, str], element: Mapping[str, Any], kind: str) -> str | None:
    """The HL7 v3 `use` for a FHIR element's `use`; FragmentError for one EPS refuses."""
    fhir_use = element.get("use")
    if not fhir_use:
        return None
    if fhir_use not in table:
        raise FragmentError(f"{kind}.use", f"EPS has no HL7 v3 use for {fhir_use!r}")
    return table[fhir_use]


def identifier(identifiers: object, system: str) -> str | None:
    """The value of the first identifier of `system`."""
    for found in identifiers if isinstance(identifiers, list) else []:
        if isinstance(found, Mapping) and found.get("system") == system and found.get("value"):
            return str(found["value"])
    return None


def global_id(value: str) -> str:
    """codes.ts GlobalIdentifier: a UUID is written in upper case."""
    return value.upper() if UUID.search(value) else value


def xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def parse_fhir_datetime(value: object, path: str) -> datetime:
    if not isinstance(value, str):
        raise FragmentError(path, "required")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FragmentError(path, f"{value!r} is not a FHIR dateTime") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def hl7_datetime(value: object, path: str) -> str:
    return parse_fhir_datetime(value, path).astimezone(UTC).strftime("%Y%m%d%H%M%S")


def hl7_date(value: object, path: str) -> str:
    return parse_fhir_datetime(value, path).strftime("%Y%m%d")
