"""The canonical `HomecarePrescription`: what every adapter produces and every FHIR mapping consumes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Action(StrEnum):
    NEW = "NEW"
    AMEND = "AMEND"
    CANCEL = "CANCEL"


class ServiceType(StrEnum):
    DELIVERY = "DELIVERY"
    DELIVERY_NURSING = "DELIVERY_NURSING"
    DELIVERY_TRAINING = "DELIVERY_TRAINING"


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"
    UNKNOWN = "U"
    INDETERMINATE = "I"


class PrescriberCodeType(StrEnum):
    GMC = "GMC"
    NMC = "NMC"
    GPHC = "GPHC"
    HCPC = "HCPC"
    # EPS's professional-code: a prescriber code of no named register, carried as it is (no 12xx type follows).
    # Only EPS FHIR messages carry it; exports name one of the four registers (RegisterCodeType).
    PROFESSIONAL = "PROFESSIONAL"


class RegisterCodeType(StrEnum):
    """The professional registers a trust export names its prescriber by (JAC, Ascribe, HL7 v2)."""

    GMC = "GMC"
    NMC = "NMC"
    GPHC = "GPHC"
    HCPC = "HCPC"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(_Frozen):
    lines: tuple[str, ...]
    postcode: str


class Patient(_Frozen):
    nhs_number: str
    hospital_number: str | None = None
    title: str | None = None
    family: str
    given: tuple[str, ...]
    birth_date: date
    sex: Sex
    address: Address
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None


class Prescriber(_Frozen):
    name: str
    family: str | None = None
    given: str | None = None
    code: str
    code_type: PrescriberCodeType
    specialty: str | None = None
    clinic_code: str | None = None


class Item(_Frozen):
    line_no: int = Field(ge=1)
    dmd_code: str
    description: str
    dose: Decimal | None = None
    dose_unit: str | None = None
    frequency: str | None = None
    route: str | None = None
    qty_per_delivery: Decimal = Field(gt=0)
    qty_unit: str
    days_per_delivery: int = Field(ge=1, le=365)
    number_of_deliveries: int = Field(ge=1, le=52)
    first_delivery_date: date | None = None
    review_date: date | None = None
    instructions: str | None = None
    is_ancillary: bool = False


class HomecarePrescription(_Frozen):
    """One prescription from a trust, with its items, independent of the source format."""

    action: Action
    trust_ods: str
    site_code: str | None = None
    rx_number: str
    rx_version: int = Field(ge=1)
    signed_at: datetime
    patient: Patient | None = None
    prescriber: Prescriber | None = None
    indication: str | None = None
    indication_snomed: str | None = None
    provider_ods: str | None = None
    service_type: ServiceType | None = None
    delivery_address: Address | None = None
    delivery_instructions: str | None = None
    cancel_reason: str | None = None
    items: tuple[Item, ...] = ()
    source_format: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.trust_ods, self.rx_number, self.rx_version)
