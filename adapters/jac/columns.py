"""The JAC export's column table (spec v1.2): names as the spec spells them, level and requirement."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    PRESCRIPTION = "prescription"
    ITEM = "item"


class Requirement(StrEnum):
    MANDATORY = "M"
    CONDITIONAL = "C"
    OPTIONAL = "O"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    level: Level
    requirement: Requirement
    format: str  # what the spec expects, quoted back in issues


_P, _I = Level.PRESCRIPTION, Level.ITEM
_M, _C, _O = Requirement.MANDATORY, Requirement.CONDITIONAL, Requirement.OPTIONAL

COLUMNS: tuple[Column, ...] = (
    Column("Action", _P, _M, "NEW, AMEND or CANCEL"),
    Column("TrustODS", _P, _M, "ODS organisation code of 3 or 5 characters (e.g. RHM)"),
    Column("SiteCode", _P, _O, "ODS site code (e.g. RHM01)"),
    Column("RxNumber", _P, _M, "1-20 characters of A-Z, 0-9 and - (e.g. HC-26-004711)"),
    Column("RxVersion", _P, _M, "integer >= 1"),
    Column("RxDateTime", _P, _M, "dd/mm/yyyy HH:MM (UK local time)"),
    Column("NHSNumber", _P, _M, "10 digits, spaces allowed, valid Modulus 11 check digit"),
    Column("HospitalNumber", _P, _O, "up to 20 characters"),
    Column("Title", _P, _O, "text"),
    Column("Surname", _P, _M, "text"),
    Column("Forenames", _P, _M, "text"),
    Column("DOB", _P, _M, "dd/mm/yyyy, not in the future"),
    Column("Sex", _P, _M, "M, F, U or I"),
    Column("Address1", _P, _M, "text"),
    Column("Address2", _P, _O, "text"),
    Column("Address3", _P, _O, "text"),
    Column("Address4", _P, _O, "text"),
    Column("Postcode", _P, _M, "UK postcode (e.g. SO16 6YD)"),
    Column("Phone", _P, _C, "text"),
    Column("Mobile", _P, _C, "text"),
    Column("Email", _P, _O, "email address"),
    Column("DeliveryAddress1", _P, _O, "text"),
    Column("DeliveryAddress2", _P, _O, "text"),
    Column("DeliveryAddress3", _P, _O, "text"),
    Column("DeliveryPostcode", _P, _C, "UK postcode (e.g. SO16 6YD)"),
    Column("DeliveryInstructions", _P, _O, "text"),
    Column("PrescriberName", _P, _M, "SURNAME, Forename or free text"),
    Column("PrescriberCode", _P, _M, "professional registration number"),
    Column("PrescriberCodeType", _P, _M, "GMC, NMC, GPHC or HCPC"),
    Column("Specialty", _P, _O, "text"),
    Column("ClinicCode", _P, _O, "text"),
    Column("Indication", _P, _M, "text"),
    Column("IndicationSNOMED", _P, _O, "SNOMED CT concept id: 6-18 digits with a Verhoeff check digit"),
    Column("ProviderODS", _P, _O, "ODS organisation code (e.g. 8HV48)"),
    Column("ServiceType", _P, _M, "DELIVERY, DELIVERY_NURSING or DELIVERY_TRAINING"),
    Column("CancelReason", _P, _C, "text"),
    Column("LineNo", _I, _M, "integer >= 1, unique within the prescription"),
    Column("DmdCode", _I, _M, "dm+d VMP or AMP code: 6-18 digits with a Verhoeff check digit"),
    Column("DrugDescription", _I, _M, "text"),
    Column("Dose", _I, _C, "decimal with . as separator (e.g. 0.4)"),
    Column("DoseUnit", _I, _C, "text (e.g. mg)"),
    Column("Frequency", _I, _C, "frequency code (e.g. OD, EVERY 14 DAYS) or free text"),
    Column("Route", _I, _O, "text"),
    Column("QtyPerDelivery", _I, _M, "decimal > 0 with . as separator"),
    Column("QtyUnit", _I, _M, "text (e.g. pre-filled pen)"),
    Column("DaysPerDelivery", _I, _M, "integer 1-365"),
    Column("NumberOfDeliveries", _I, _M, "integer 1-52"),
    Column("FirstDeliveryDate", _I, _O, "dd/mm/yyyy"),
    Column("ReviewDate", _I, _O, "dd/mm/yyyy"),
    Column("Instructions", _I, _O, "text"),
    Column("IsAncillary", _I, _O, "Y or N"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
PRESCRIPTION_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.level is Level.PRESCRIPTION)
ITEM_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.level is Level.ITEM)
# A file without one of these columns is rejected as a whole; C and O columns may be left out of the header.
MANDATORY_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.requirement is Requirement.MANDATORY)
BY_FOLDED_NAME: dict[str, str] = {c.name.casefold(): c.name for c in COLUMNS}
EXPECTED: dict[str, str] = {c.name: c.format for c in COLUMNS}


def canonical_name(header_cell: str) -> str | None:
    """The spec's spelling of a header cell, matched case-insensitively ignoring surrounding spaces."""
    return BY_FOLDED_NAME.get(header_cell.strip().casefold())
