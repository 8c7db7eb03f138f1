"""Who the prescription is for and from: Patient, the requester's Practitioner and the prescribing organisation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from adapters.fhir import issues as codes
from adapters.fhir.bundle import Entry, MessageBundle
from adapters.fhir.issues import Reader
from gateway.domain.identifiers import (
    PRESCRIBER_CODE_FORMATS,
    is_valid_nhs_number,
    is_valid_ods_code,
    is_valid_prescriber_code,
    normalise_nhs_number,
    normalise_postcode,
)
from gateway.domain.model import Sex
from gateway.fhir import urls
from gateway.fhir.parties import GENDERS
from gateway.fhir.terminology import homecare_prescription_type

Data = dict[str, object]
_SEX_OF_GENDER = {gender: sex for sex, gender in GENDERS.items()}
_REGISTER_OF_SYSTEM = {system: register for register, system in urls.PRESCRIBER_NUMBER_SYSTEMS.items()}
_ODS_EXPECTED = "an ODS code: 3, 5 or 6 letters and digits"
_NHS_NUMBER_EXPECTED = "10 digits with a valid Modulus 11 check digit"


@dataclass(frozen=True, slots=True)
class Organisation:
    """The prescribing trust and, when the prescription names one, its site (clinic or hospital)."""

    trust_ods: str
    site_code: str | None = None


def identifier(identifiers: Any, system: str) -> tuple[int, Any] | None:
    """The first Identifier with `system` in a list, and its index."""
    for index, ident in enumerate(identifiers if isinstance(identifiers, list) else []):
        if isinstance(ident, dict) and ident.get("system") == system:
            return index, ident.get("value")
    return None


def ods_code(r: Reader, ident: Any, path: str) -> str | None:
    """The ODS code of an Identifier (`path` locates the Identifier), checked for format."""
    if not isinstance(ident, dict) or ident.get("system") != urls.ODS_ORGANIZATION_CODE:
        r.fail(codes.INVALID_VALUE, f"{path}.system", "the organisation must be identified by its ODS code",
               value=ident.get("system") if isinstance(ident, dict) else None, expected=urls.ODS_ORGANIZATION_CODE)
        return None
    value = ident.get("value")
    if not isinstance(value, str) or not is_valid_ods_code(value):
        r.fail(codes.INVALID_ODS_CODE, f"{path}.value", "not an ODS organisation code", value=value,
               expected=_ODS_EXPECTED)
        return None
    return value


def read_patient(r: Reader, entry: Entry, today: date) -> Data:
    p, path = entry.resource, entry.path
    data: Data = {"nhs_number": _nhs_number(r, p, path)}
    found = identifier(p.get("identifier"), urls.LOCAL_PATIENT_IDENTIFIER)
    if found is not None and isinstance(found[1], str) and found[1].strip():
        data["hospital_number"] = found[1].strip()
    for key in ("deceasedDateTime", "deceasedBoolean"):
        if p.get(key) not in (None, False):
            # Spine refuses a prescription for a patient PDS knows as deceased; the message says so itself here.
            r.fail(codes.PATIENT_DECEASED, f"{path}.{key}", "the patient is recorded as deceased", value=p[key],
                   expected="a living patient")
    data.update(_name(r, p, path))
    gender = p.get("gender")
    if gender is None:
        r.warn(codes.DEFAULTED_VALUE, f"{path}.gender", "no gender given: recorded as unknown", expected="male, "
               "female, other or unknown")
        data["sex"] = Sex.UNKNOWN
    elif isinstance(gender, str) and gender in _SEX_OF_GENDER:
        data["sex"] = _SEX_OF_GENDER[gender]
    else:
        r.fail(codes.INVALID_CODE, f"{path}.gender", "unknown administrative gender", value=gender,
               expected="male, female, other or unknown")
    if "birthDate" not in p:
        r.missing(f"{path}.birthDate", "the patient's date of birth is required", "YYYY-MM-DD")
    else:
        data["birth_date"] = r.date_value(p["birthDate"], f"{path}.birthDate", what="the date of birth",
                                          not_after=today)
    data["address"] = _home_address(r, p, path)
    data.update(_telecom(p))
    return data


def _nhs_number(r: Reader, p: dict[str, Any], path: str) -> str | None:
    found = identifier(p.get("identifier"), urls.NHS_NUMBER)
    if found is None:
        r.missing(f"{path}.identifier", "the patient's NHS number is required",
                  f"an identifier with system {urls.NHS_NUMBER}")
        return None
    index, value = found
    if not isinstance(value, str) or not is_valid_nhs_number(value):
        r.fail(codes.INVALID_NHS_NUMBER, f"{path}.identifier[{index}].value", "not a valid NHS number",
               value=value, expected=_NHS_NUMBER_EXPECTED)
        return None
    return normalise_nhs_number(value)


def _name(r: Reader, p: dict[str, Any], path: str) -> Data:
    names = p.get("name")
    names = names if isinstance(names, list) else []
    chosen = next((i for i, n in enumerate(names) if isinstance(n, dict) and n.get("use") in ("usual", "official")),
                  0 if names else None)
    if chosen is None or not isinstance(names[chosen], dict):
        r.missing(f"{path}.name", "the patient's name is required", "a HumanName with family and given names")
        return {}
    name, npath = names[chosen], f"{path}.name[{chosen}]"
    given = name.get("given")
    prefix = name.get("prefix")
    return {
        "family": r.string(name, "family", npath, required=True, what="the patient's family name"),
        "given": tuple(g.strip() for g in given if isinstance(g, str) and g.strip()) if isinstance(given, list) else (),
        "title": prefix[0] if isinstance(prefix, list) and prefix and isinstance(prefix[0], str) else None,
    }


def address(r: Reader, value: Any, path: str, *, what: str) -> Data | None:
    """A FHIR Address as canonical lines (line, then city and district) and a checked UK postcode."""
    if not isinstance(value, dict):
        r.missing(path, f"{what} is required", "an Address with line and postalCode")
        return None
    found = value.get("line")
    lines = [x.strip() for x in found if isinstance(x, str) and x.strip()] if isinstance(found, list) else []
    lines += [value[k].strip() for k in ("city", "district") if isinstance(value.get(k), str) and value[k].strip()]
    if not lines:
        r.missing(f"{path}.line", f"{what} needs at least one line", "the first line of the address")
    raw = r.string(value, "postalCode", path, required=True, what=f"the postcode of {what}")
    postcode = normalise_postcode(raw) if raw is not None else None
    if raw is not None and postcode is None:
        r.fail(codes.INVALID_POSTCODE, f"{path}.postalCode", "not a UK postcode", value=raw,
               expected="a UK postcode, e.g. SO16 6YD")
    return {"lines": lines, "postcode": postcode}


def _home_address(r: Reader, p: dict[str, Any], path: str) -> Data | None:
    found = p.get("address")
    found = found if isinstance(found, list) else []
    index = next((i for i, a in enumerate(found) if isinstance(a, dict) and a.get("use") == "home"), 0)
    return address(r, found[index] if found else None, f"{path}.address[{index}]" if found else f"{path}.address",
                   what="the patient's address")


def _telecom(p: dict[str, Any]) -> Data:
    out: Data = {}
    telecom = p.get("telecom")
    for contact in telecom if isinstance(telecom, list) else []:
        value = contact.get("value") if isinstance(contact, dict) else None
        if not isinstance(value, str) or not value.strip():
            continue
        value = value.strip().removeprefix("tel:").removeprefix("mailto:")
        system, use = contact.get("system"), contact.get("use")
        key = {"email": "email", "phone": "mobile" if use == "mobile" else "phone"}.get(system)
        if key is not None and key not in out:
            out[key] = value
    return out


def read_prescriber(r: Reader, bundle: MessageBundle, requester: Entry) -> Data | None:
    """The prescriber of a requester (a PractitionerRole, or a Practitioner) with a professional registration."""
    role = requester if requester.type == "PractitionerRole" else None
    practitioner: dict[str, Any] | None = requester.resource if requester.type == "Practitioner" else None
    ppath, by_identifier = requester.path, False
    if role is not None:
        ref, ppath = role.resource.get("practitioner"), f"{role.path}.practitioner"
        if isinstance(ref, dict) and "reference" in ref:
            target = bundle.resolve(ref)
            if target is None or target.type != "Practitioner":
                r.fail(codes.UNRESOLVED_REFERENCE, f"{ppath}.reference", "names no Practitioner in this Bundle",
                       value=ref.get("reference"), expected="the fullUrl of a Practitioner entry")
                return None
            practitioner, ppath = target.resource, target.path
        elif isinstance(ref, dict) and "identifier" in ref:
            # EPS's newer shape: the registration on the reference itself, the name as its display.
            practitioner = {"identifier": [ref["identifier"]], "display": ref.get("display")}
            by_identifier = True
    if practitioner is None:
        r.missing(ppath, "the prescribing practitioner is required", "a Practitioner with a registration number")
        return None
    if by_identifier:  # one Identifier, not a list
        data = _registration(r, practitioner["identifier"], lambda _: f"{ppath}.identifier", f"{ppath}.identifier")
    else:
        identifiers = practitioner.get("identifier")
        data = _registration(r, identifiers if isinstance(identifiers, list) else [],
                             lambda i: f"{ppath}.identifier[{i}]", f"{ppath}.identifier")
    data.update(_prescriber_name(r, practitioner, ppath, by_identifier))
    data["specialty"] = _specialty(role.resource) if role is not None else None
    return data


def _registration(r: Reader, identifiers: list[Any], at: Callable[[int], str], path: str) -> Data:
    """The prescriber's one professional code, read as EPS reads it (practitioner.ts
    `getAgentPersonPersonIdForAuthor`): exactly one of GMC, NMC, GPhC, HCPC or professional-code; a GMC number's
    leading "C" is dropped; the format is not EPS's business (a mismatch is a warning). A GMP number is refused as
    EPS refuses it on a prescription (bundle-validator.ts). `at(i)` locates identifier i."""
    found: list[tuple[int, str, Any]] = []
    for index, ident in enumerate(identifiers):
        system = ident.get("system") if isinstance(ident, dict) else None
        if system == urls.GMP_NUMBER:
            r.fail(codes.INVALID_PRESCRIBER_CODE, f"{at(index)}.system", "a GP prescribing (GMP) number does not "
                   "identify the prescriber of a prescription", value=system,
                   expected="GMC|NMC|GPhC|HCPC|professional-code")
            return {}
        register = _REGISTER_OF_SYSTEM.get(system) if isinstance(system, str) else None
        if register is not None:
            found.append((index, register, ident.get("value")))
    if len(found) != 1:
        seen = [i.get("system") for i in identifiers if isinstance(i, dict)]
        r.fail(codes.INVALID_PRESCRIBER_CODE, path,
               "expected exactly one professional code: one of GMC|NMC|GPhC|HCPC|professional-code",
               value=", ".join(str(s) for s in seen) or None,
               expected="one identifier with system " + " or ".join(urls.PRESCRIBER_NUMBER_SYSTEMS.values()))
        return {}
    index, register, value = found[0]
    vpath = f"{at(index)}.value"
    if not isinstance(value, str) or not value.strip():
        r.fail(codes.INVALID_PRESCRIBER_CODE, vpath, f"the {register} code is empty", value=value,
               expected=PRESCRIBER_CODE_FORMATS[register])
        return {}
    value = value.strip()
    if register == "GMC" and value[:1].upper() == "C":
        value = value[1:]  # EPS drops it: "C1234567" is GMC number 1234567
    if not is_valid_prescriber_code(register, value):
        r.warn(codes.INVALID_PRESCRIBER_CODE, vpath, f"not the format of a {register} code; carried as EPS carries "
               "it", value=value, expected=PRESCRIBER_CODE_FORMATS[register])
    elif register == "HCPC" and homecare_prescription_type(register, value) is None:
        # Gateway safety: only the HCPC professions with prescribing rights may prescribe.
        r.fail(codes.UNSUPPORTED_PRESCRIBER, vpath, "this HCPC profession cannot prescribe", value=value,
               expected="an HCPC number of a prescribing profession (CH, DT, PA, PH or RA)")
        return {}
    return {"code": value, "code_type": register}


def _prescriber_name(r: Reader, practitioner: dict[str, Any], path: str, by_identifier: bool) -> Data:
    """`FAMILY, Given` from a structured name (as the JAC PrescriberName reads), else the text as written."""
    names = practitioner.get("name")
    name = names[0] if isinstance(names, list) and names and isinstance(names[0], dict) else {}
    text = r.string(name, "text", f"{path}.name[0]")
    family = r.string(name, "family", f"{path}.name[0]")
    given_list = name.get("given")
    given = " ".join(g.strip() for g in given_list if isinstance(g, str) and g.strip()) if isinstance(
        given_list, list) else ""
    display = practitioner.get("display")
    if text is None and family is None and not (isinstance(display, str) and display.strip()):
        where = f"{path}.display" if by_identifier else f"{path}.name"
        r.missing(where, "the prescriber's name is required", "a HumanName with a family name or text")
        return {}
    if family is not None:
        full = f"{family}, {given}" if given else family
        return {"name": text or full, "family": family, "given": given or None}
    return {"name": text or str(display).strip(), "family": None, "given": None}


def read_organisation(r: Reader, bundle: MessageBundle, requester: Entry) -> Organisation | None:
    """Organization.partOf's ODS is the trust and the Organization the site; without partOf, it is the trust."""
    role = requester.resource if requester.type == "PractitionerRole" else {}
    ref, opath = role.get("organization"), f"{requester.path}.organization"
    if isinstance(ref, dict) and "reference" in ref:
        target = bundle.resolve(ref)
        if target is None or target.type != "Organization":
            r.fail(codes.UNRESOLVED_REFERENCE, f"{opath}.reference", "names no Organization in this Bundle",
                   value=ref.get("reference"), expected="the fullUrl of an Organization entry")
            return None
        return _organization(r, bundle, target)
    if isinstance(ref, dict) and "identifier" in ref:
        trust = ods_code(r, ref["identifier"], f"{opath}.identifier")
        # EPS's newer shape: the trust as organization, the prescribing site as healthcareService.
        services = role.get("healthcareService")
        service = services[0] if isinstance(services, list) and services and isinstance(services[0], dict) else {}
        site = None
        if "identifier" in service:
            site = ods_code(r, service["identifier"], f"{requester.path}.healthcareService[0].identifier")
        return Organisation(trust, site) if trust is not None else None
    sender = bundle.sender_ods()
    if sender is not None and is_valid_ods_code(sender):
        return Organisation(sender)
    r.missing(opath, "the prescribing organisation is required",
              "a PractitionerRole.organization, or MessageHeader.sender with an ODS code")
    return None


def _organization(r: Reader, bundle: MessageBundle, org: Entry) -> Organisation | None:
    own = _own_ods(r, org)
    part_of, ppath = org.resource.get("partOf"), f"{org.path}.partOf"
    if part_of is None:
        return Organisation(own) if own is not None else None
    parent: str | None = None
    if isinstance(part_of, dict) and "identifier" in part_of:
        parent = ods_code(r, part_of["identifier"], f"{ppath}.identifier")
    else:
        target = bundle.resolve(part_of)
        if target is None or target.type != "Organization":
            r.fail(codes.UNRESOLVED_REFERENCE, f"{ppath}.reference", "names no Organization in this Bundle",
                   value=part_of.get("reference") if isinstance(part_of, dict) else part_of,
                   expected="an ODS identifier, or the fullUrl of an Organization entry")
            return None
        parent = _own_ods(r, target)
    if parent is None or own is None:
        return None
    return Organisation(parent, own)


def _own_ods(r: Reader, org: Entry) -> str | None:
    found = identifier(org.resource.get("identifier"), urls.ODS_ORGANIZATION_CODE)
    if found is None:
        r.missing(f"{org.path}.identifier", "the organisation's ODS code is required",
                  f"an identifier with system {urls.ODS_ORGANIZATION_CODE}")
        return None
    return ods_code(r, org.resource["identifier"][found[0]], f"{org.path}.identifier[{found[0]}]")


def _specialty(role: dict[str, Any]) -> str | None:
    """PractitionerRole.specialty as text (the gateway's orders), else the text of its code (older orders)."""
    for element in ("specialty", "code"):
        concepts = role.get(element)
        first = concepts[0] if isinstance(concepts, list) and concepts and isinstance(concepts[0], dict) else {}
        if isinstance(first.get("text"), str):
            return str(first["text"])
    return None
