"""Fixtures for the adapter tests: a JAC adapter on a frozen clock and the spec's example rows with real dm+d codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.jac import JacAdapter

# The spec's example is signed on 21/11/2026; "today" for the DOB check is the day after.
FROZEN_NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)

# The header of the spec's example, in its order (optional columns it leaves out are absent on purpose).
EXAMPLE_COLUMNS = (
    "Action,TrustODS,RxNumber,RxVersion,RxDateTime,NHSNumber,HospitalNumber,Title,Surname,Forenames,DOB,Sex,Address1,"
    "Address2,Postcode,Phone,Mobile,PrescriberName,PrescriberCode,PrescriberCodeType,Specialty,Indication,ProviderODS,"
    "ServiceType,LineNo,DmdCode,DrugDescription,Dose,DoseUnit,Frequency,Route,QtyPerDelivery,QtyUnit,DaysPerDelivery,"
    "NumberOfDeliveries,FirstDeliveryDate,Instructions,IsAncillary"
).split(",")

_PRESCRIPTION = {
    "Action": "NEW",
    "TrustODS": "RHM",
    "RxNumber": "HC-26-004711",
    "RxVersion": "1",
    "RxDateTime": "21/11/2026 14:05",
    "NHSNumber": "943 476 5919",
    "HospitalNumber": "K1234567",
    "Title": "Mrs",
    "Surname": "SMITH",
    "Forenames": "Jane Anne",
    "DOB": "14/02/1968",
    "Sex": "F",
    "Address1": "12 Tremona Road",
    "Address2": "Southampton",
    "Postcode": "SO16 6YD",
    "Phone": "023 8079 0000",
    "Mobile": "07700 900123",
    "PrescriberName": "JONES, Alan",
    "PrescriberCode": "4123456",
    "PrescriberCodeType": "GMC",
    "Specialty": "Rheumatology",
    "Indication": "Rheumatoid arthritis",
    "ProviderODS": "",
    "ServiceType": "DELIVERY",
}
# Real dm+d concept ids from shared/reference/dmd-subset.csv.
_METHOTREXATE = {
    "LineNo": "1",
    "DmdCode": "15517911000001104",
    "DrugDescription": "Methotrexate 10mg/0.2ml solution for injection pre-filled syringes",
    "Dose": "10",
    "DoseUnit": "mg",
    "Frequency": "OW",
    "Route": "Subcutaneous",
    "QtyPerDelivery": "4",
    "QtyUnit": "pre-filled syringe",
    "DaysPerDelivery": "28",
    "NumberOfDeliveries": "6",
    "FirstDeliveryDate": "01/12/2026",
    "Instructions": "Store below 25C",
    "IsAncillary": "N",
}
# The ancillary line (what a sharps bin would be): no dose or frequency.
_ANCILLARY = {
    "LineNo": "2",
    "DmdCode": "110171000001104",
    "DrugDescription": "Water for injections 2ml ampoules",
    "Dose": "",
    "DoseUnit": "",
    "Frequency": "",
    "Route": "",
    "QtyPerDelivery": "1",
    "QtyUnit": "ampoule",
    "DaysPerDelivery": "168",
    "NumberOfDeliveries": "1",
    "FirstDeliveryDate": "",
    "Instructions": "",
    "IsAncillary": "Y",
}


@pytest.fixture(scope="session")
def jac() -> JacAdapter:
    return JacAdapter(clock=lambda: FROZEN_NOW)


@pytest.fixture(scope="session")
def frozen_now() -> datetime:
    return FROZEN_NOW


@pytest.fixture
def example_columns() -> list[str]:
    return list(EXAMPLE_COLUMNS)


@pytest.fixture
def example_rows() -> list[dict[str, str]]:
    """The spec's example prescription: a methotrexate line and an ancillary line (fresh copies per test)."""
    return [{**_PRESCRIPTION, **_METHOTREXATE}, {**_PRESCRIPTION, **_ANCILLARY}]
