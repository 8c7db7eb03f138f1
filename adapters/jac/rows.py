"""Validated cells to the canonical model: one item per row, the prescription from its first row."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum

from pydantic import ValidationError

from adapters.jac import issues as codes
from adapters.jac.columns import ITEM_COLUMNS
from adapters.jac.fields import RowReader
from gateway.domain.model import Action, HomecarePrescription, RegisterCodeType, ServiceType, Sex

SOURCE_FORMAT = "jac"
_RX_NUMBER_RE = re.compile(r"[A-Z0-9-]{1,20}")
_HOSPITAL_NUMBER_MAX = 20
_UNLESS_ANCILLARY = "is mandatory unless IsAncillary is Y"

# Each part is gathered as plain data and the whole prescription validated once: one pydantic-core call per
# prescription instead of one per model keeps a 5,000-prescription file well under a second.
Data = dict[str, object]


class YesNo(StrEnum):
    YES = "Y"
    NO = "N"


def has_item(values: Mapping[str, str]) -> bool:
    """Whether a row carries any item cell (a CANCEL may be a single row of prescription columns only)."""
    return any(values[column] for column in ITEM_COLUMNS)


def read_item(r: RowReader) -> Data | None:
    """The item on one row, or None when a cell is wrong (each wrong cell recorded on `r`)."""
    before, v = len(r.issues), r.values
    ancillary = r.code("IsAncillary", YesNo, required=False) is YesNo.YES
    item: Data = {
        "line_no": r.integer("LineNo", 1),
        "dmd_code": r.snomed("DmdCode", codes.INVALID_DMD_CODE, required=True),
        "description": r.text("DrugDescription", required=True),
        "dose": r.decimal("Dose", required=not ancillary, why=_UNLESS_ANCILLARY),
        "dose_unit": v["DoseUnit"] or None,
    }
    if item["dose_unit"] is None and v["Dose"]:
        r.missing("DoseUnit", "is mandatory when Dose is given")
    elif item["dose_unit"] is None and not ancillary:
        r.missing("DoseUnit", _UNLESS_ANCILLARY)
    elif item["dose_unit"] is not None and not v["Dose"] and ancillary:
        r.missing("Dose", "is mandatory when DoseUnit is given")
    item.update(
        frequency=r.text("Frequency", required=not ancillary, why=_UNLESS_ANCILLARY),
        route=v["Route"] or None,
        qty_per_delivery=r.decimal("QtyPerDelivery", positive=True),
        qty_unit=r.text("QtyUnit", required=True),
        days_per_delivery=r.integer("DaysPerDelivery", 1, 365),
        number_of_deliveries=r.integer("NumberOfDeliveries", 1, 52),
        first_delivery_date=r.date("FirstDeliveryDate"),
        review_date=r.date("ReviewDate"),
        instructions=v["Instructions"] or None,
        is_ancillary=ancillary,
    )
    return None if len(r.issues) > before else item


def read_prescription(r: RowReader, today: date, items: list[Data] | None) -> HomecarePrescription | None:
    """Check the prescription columns of a row; build the model when they, and the items, are all valid.

    `items` is None when an item was wrong: the prescription columns are still checked, so that every error
    of the prescription is reported at once.
    """
    v = r.values
    action = r.code("Action", Action)
    data: Data = {
        "action": action,
        "trust_ods": r.ods("TrustODS", lengths=(3, 5), required=True),
        "site_code": r.ods("SiteCode"),
        "rx_number": r.pattern("RxNumber", _RX_NUMBER_RE),
        "rx_version": r.integer("RxVersion", 1),
    }
    if action is Action.AMEND and data["rx_version"] == 1:
        r.fail(codes.INVALID_VERSION, "RxVersion", "an AMEND replaces an earlier version, so it cannot be version 1",
               "integer >= 2 for an AMEND")
    data.update(
        signed_at=r.uk_datetime("RxDateTime"),
        patient=_patient(r, today),
        delivery_address=_delivery_address(r),
        delivery_instructions=v["DeliveryInstructions"] or None,
        prescriber=_prescriber(r),
        indication=r.text("Indication", required=True),
        indication_snomed=r.snomed("IndicationSNOMED", codes.INVALID_SNOMED_CODE, required=False),
        provider_ods=r.ods("ProviderODS"),
        service_type=r.code("ServiceType", ServiceType),
        cancel_reason=v["CancelReason"] or None,
        items=items,
        source_format=SOURCE_FORMAT,
    )
    if action is Action.CANCEL and data["cancel_reason"] is None:
        r.missing("CancelReason", "is mandatory when Action is CANCEL")
    if r.issues or items is None:
        return None
    try:
        return HomecarePrescription.model_validate(data)
    except ValidationError as exc:  # the cell checks are meant to make this unreachable
        r.issues.append(codes.issue(codes.INVALID_PRESCRIPTION, f"line {r.line}: {exc}", line=r.line))
        return None


def _patient(r: RowReader, today: date) -> Data:
    v = r.values
    forenames = r.text("Forenames", required=True)
    patient: Data = {
        "nhs_number": r.nhs_number("NHSNumber"),
        "hospital_number": r.max_length("HospitalNumber", _HOSPITAL_NUMBER_MAX),
        "title": v["Title"] or None,
        "family": r.text("Surname", required=True),
        "given": tuple(forenames.split()) if forenames else (),
        "birth_date": r.date("DOB", required=True, today=today),
        "sex": r.code("Sex", Sex),
    }
    lines = [line for line in (v["Address1"], v["Address2"], v["Address3"], v["Address4"]) if line]
    if not v["Address1"]:
        r.missing("Address1")
    patient["address"] = {"lines": lines, "postcode": r.postcode("Postcode")}
    phone, mobile = v["Phone"] or None, v["Mobile"] or None
    if phone is None and mobile is None:
        r.fail(codes.MISSING_VALUE, "Phone", "at least one of Phone and Mobile is mandatory but both are blank",
               "Phone or Mobile")
    patient.update(phone=phone, mobile=mobile, email=r.email("Email"))
    return patient


def _delivery_address(r: RowReader) -> Data | None:
    """The delivery address, or None (deliver to the home address) when its columns are blank."""
    v = r.values
    lines = [line for line in (v["DeliveryAddress1"], v["DeliveryAddress2"], v["DeliveryAddress3"]) if line]
    if v["DeliveryAddress1"]:
        return {"lines": lines,
                "postcode": r.postcode("DeliveryPostcode", why="is mandatory when DeliveryAddress1 is given")}
    if lines or v["DeliveryPostcode"]:
        r.missing("DeliveryAddress1", "is mandatory when another delivery address column is given")
    return None


def _prescriber(r: RowReader) -> Data:
    v = r.values
    name = r.text("PrescriberName", required=True)
    code_type = r.code("PrescriberCodeType", RegisterCodeType)
    family, given = split_prescriber_name(name) if name else (None, None)
    return {"name": name, "family": family, "given": given, "code": r.prescriber_code("PrescriberCode", code_type),
            "code_type": code_type, "specialty": v["Specialty"] or None, "clinic_code": v["ClinicCode"] or None}


def split_prescriber_name(name: str) -> tuple[str | None, str | None]:
    """`SURNAME, Forename` → (family, given); anything else is free text with neither part known."""
    family, comma, given = name.partition(",")
    family, given = family.strip(), given.strip()
    if not comma or not family or not given or "," in given:
        return None, None
    return family, given
