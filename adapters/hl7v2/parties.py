"""PID to the canonical patient, ORC-12 to the prescriber: identifiers, name, addresses and phones."""

from __future__ import annotations

from datetime import date

from adapters.hl7v2.profile import (
    COUNTRY,
    DELIVERY_ADDRESS_TYPES,
    EMAIL,
    HOME_PHONE,
    MOBILE,
    MRN_TYPE,
    NHS_NUMBER_TYPE,
    SEXES,
    Hl7Sex,
)
from adapters.hl7v2.reader import FieldReader
from adapters.jac import issues as codes
from gateway.domain.model import RegisterCodeType

Data = dict[str, object]
_HOSPITAL_NUMBER_MAX = 20


def read_patient(pid: FieldReader, today: date) -> tuple[Data, Data | None]:
    """The patient, and the delivery address (None: deliver to the home address)."""
    identifiers = _typed_repetitions(pid, 3, "PID-3[{}].5")
    patient: Data = {"nhs_number": _nhs_number(pid, identifiers.get(NHS_NUMBER_TYPE)),
                     "hospital_number": _hospital_number(pid, identifiers.get(MRN_TYPE))}
    given = f"{pid.values['PID-5[1].2']} {pid.values['PID-5[1].3']}".split()
    patient.update(
        title=pid.values["PID-5[1].5"] or None,
        family=pid.text("PID-5[1].1", required=True),
        given=tuple(given),
        birth_date=pid.date("PID-7", required=True, today=today),
    )
    if not given:
        pid.missing("PID-5[1].2")
    sex = pid.code("PID-8", Hl7Sex)
    patient["sex"] = None if sex is None else SEXES[sex]
    addresses = _typed_repetitions(pid, 11, "PID-11[{}].7")
    delivery = next((addresses[t] for t in DELIVERY_ADDRESS_TYPES if t in addresses), None)
    home = addresses.get("H", next((r for t, r in addresses.items() if t not in DELIVERY_ADDRESS_TYPES), None))
    if home is None:
        pid.report(codes.MISSING_VALUE, "PID-11", "no repetition is the home address", value=pid.segment.field_text(11))
    patient["address"] = None if home is None else _address(pid, home)
    patient.update(_phones(pid))
    return patient, None if delivery is None else _address(pid, delivery)


def read_prescriber(orc: FieldReader) -> Data:
    family = orc.text("ORC-12[1].2", required=True)
    given = orc.values["ORC-12[1].3"] or None
    code_type = orc.code("ORC-12[1].9", RegisterCodeType)
    name = f"{family}, {given}" if family and given else family
    return {"name": name, "family": family, "given": given, "code": orc.prescriber_code("ORC-12[1].1", code_type),
            "code_type": code_type, "specialty": None, "clinic_code": None}


def _typed_repetitions(r: FieldReader, field: int, type_path: str) -> dict[str, int]:
    """The first repetition of each type (identifier type, address type), by type."""
    by_type: dict[str, int] = {}
    for repetition in range(1, r.segment.repetitions(field) + 1):
        by_type.setdefault(r.values[type_path.format(repetition)], repetition)
    return by_type


def _nhs_number(pid: FieldReader, repetition: int | None) -> str | None:
    if repetition is None:
        pid.report(codes.MISSING_VALUE, "PID-3", f"no identifier is typed {NHS_NUMBER_TYPE} (the NHS number)",
                   value=pid.segment.field_text(3))
        return None
    return pid.nhs_number(f"PID-3[{repetition}].1")


def _hospital_number(pid: FieldReader, repetition: int | None) -> str | None:
    if repetition is None:
        return None
    path = f"PID-3[{repetition}].1"
    value = pid.text(path)
    if value is not None and len(value) > _HOSPITAL_NUMBER_MAX:
        pid.fail(codes.TOO_LONG, path, f"'{value}' is {len(value)} characters long, more than {_HOSPITAL_NUMBER_MAX}",
                 f"a hospital number (MRN) of up to {_HOSPITAL_NUMBER_MAX} characters")
        return None
    return value


def _address(pid: FieldReader, repetition: int) -> Data:
    at = f"PID-11[{repetition}]"
    lines = [line for c in (1, 2, 3, 4) if (line := pid.values[f"{at}.{c}"])]
    pid.text(f"{at}.1", required=True)
    country = pid.values[f"{at}.6"]
    if country and country != COUNTRY:
        pid.fail(codes.INVALID_CODE, f"{at}.6", f"'{country}' is not {COUNTRY}: the gateway serves UK addresses")
    return {"lines": lines, "postcode": pid.postcode(f"{at}.5")}


def _phones(pid: FieldReader) -> Data:
    phones: Data = {"phone": None, "mobile": None, "email": None}
    for repetition in range(1, pid.segment.repetitions(13) + 1):
        at = f"PID-13[{repetition}]"
        equipment = pid.values[f"{at}.3"]
        if equipment == EMAIL and phones["email"] is None:
            address = f"{at}.4" if pid.values[f"{at}.4"] else f"{at}.1"
            phones["email"] = pid.email(address)
        elif equipment in (HOME_PHONE, MOBILE):
            key = "phone" if equipment == HOME_PHONE else "mobile"
            number = pid.values[f"{at}.1"] or pid.values[f"{at}.12"]
            if phones[key] is None and number:
                phones[key] = number
    if phones["phone"] is None and phones["mobile"] is None:
        pid.report(codes.MISSING_VALUE, "PID-13", "neither a home phone (^PRN^PH) nor a mobile (^PRN^CP) is given",
                   value=pid.segment.field_text(13))
    return phones
