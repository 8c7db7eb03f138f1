"""A trust's side: generated JAC export rows with valid identifiers and real dm+d codes (shared/reference/).

The conformance kit sends them to a gateway under test; the gateway's simulators, demo data and benchmarks use the
same rows (conformance/parties/__init__.py).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from conformance.identifiers import nhs_check_digit

# (dm+d code, description, dose, dose unit, frequency, route, qty per delivery, qty unit, days per delivery)
MEDICINES: tuple[tuple[str, str, str, str, str, str, str, str, int], ...] = (
    (
        "15517911000001104",
        "Methotrexate 10mg/0.2ml solution for injection pre-filled syringes",
        "10",
        "mg",
        "OW",
        "Subcutaneous",
        "4",
        "pre-filled disposable injection",
        28,
    ),
    (
        "37571311000001104",
        "Methofill 10mg/0.2ml solution for injection pre-filled syringes (Accord Healthcare Ltd)",
        "10",
        "mg",
        "OW",
        "Subcutaneous",
        "4",
        "pre-filled disposable injection",
        28,
    ),
    (
        "36120011000001101",
        "Fentanyl 25micrograms/hour transdermal patches",
        "1",
        "patch",
        "EVERY 3 DAYS",
        "Transdermal",
        "10",
        "patch",
        30,
    ),
    ("13892511000001100", "Amlodipine 5mg/5ml oral solution", "2.5", "ml", "OD", "Oral", "75.5", "ml", 30),
)
# An ancillary item goes on the medicine's schedule: EPS reads one schedule per prescription.
ANCILLARY = ("9655601000001105", "Glandosane", "50", "ml")
SURNAMES = ("SMITH", "JONES", "TAYLOR", "BROWN", "Ó BRIAIN", "WILLIAMS", "NOWAK")
FORENAMES = ("Jane Anne", "Zoë", "Łukasz", "Amir", "Grace", "Peter John", "Aisha")
POSTCODES = ("SO16 6YD", "LS15 8BA", "KT11 2QX", "SY1 4RQ", "TA1 5DA")


def nhs_number(rng: random.Random) -> str:
    while True:
        first = f"{rng.randrange(400_000_000, 999_999_999):09d}"
        check = nhs_check_digit(first)
        if check is not None:
            return first + str(check)


def export_rows(
    count: int,
    *,
    seed: int = 1,
    trust_ods: str = "RBA",
    provider_ods: str | None = None,
    rx_prefix: str = "HC",
    max_deliveries: int = 6,
    signed: datetime | None = None,
) -> list[dict[str, str]]:
    """JAC rows for `count` NEW prescriptions: one medicine each, every third with an ancillary item."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    signed = signed or datetime(2026, 11, 21, 14, 5)
    rows = []
    for n in range(count):
        medicine = rng.choice(MEDICINES)
        days = medicine[-1]
        deliveries = rng.randint(1, max_deliveries)
        base = {
            "Action": "NEW",
            "TrustODS": trust_ods,
            "RxNumber": f"{rx_prefix}-{seed:02d}-{n:06d}",
            "RxVersion": "1",
            "RxDateTime": signed.strftime("%d/%m/%Y %H:%M"),
            "NHSNumber": nhs_number(rng),
            "HospitalNumber": f"K{rng.randrange(10**6, 10**7)}",
            "Title": "Mx",
            "Surname": rng.choice(SURNAMES),
            "Forenames": rng.choice(FORENAMES),
            "DOB": (date(1940, 1, 1) + timedelta(days=rng.randrange(0, 25000))).strftime("%d/%m/%Y"),
            "Sex": rng.choice("MFU"),
            "Address1": f"{rng.randint(1, 200)} Tremona Road",
            "Address2": "Southampton",
            "Postcode": rng.choice(POSTCODES),
            "Phone": "023 8079 0000",
            "Mobile": "07700 900123",
            "PrescriberName": "JONES, Alan",
            "PrescriberCode": "4123456",
            "PrescriberCodeType": "GMC",
            "Specialty": "Rheumatology",
            "Indication": "Rheumatoid arthritis",
            "ProviderODS": provider_ods or "",
            "ServiceType": "DELIVERY",
        }
        rows.append(
            base
            | _medicine_line(1, medicine)
            | {"DaysPerDelivery": str(days), "NumberOfDeliveries": str(deliveries), "IsAncillary": "N"}
        )
        if n % 3 == 0:
            a_code, a_desc, a_qty, a_unit = ANCILLARY
            rows.append(
                base
                | {
                    "LineNo": "2",
                    "DmdCode": a_code,
                    "DrugDescription": a_desc,
                    "QtyPerDelivery": a_qty,
                    "QtyUnit": a_unit,
                    "DaysPerDelivery": str(days),
                    "NumberOfDeliveries": str(deliveries),
                    "IsAncillary": "Y",
                }
            )
    return rows


def _medicine_line(line_no: int, medicine: tuple[str, str, str, str, str, str, str, str, int]) -> dict[str, str]:
    """The JAC columns of one medicine line (its schedule columns apart)."""
    code, desc, dose, unit, freq, route, qty, qty_unit, _days = medicine
    return {
        "LineNo": str(line_no),
        "DmdCode": code,
        "DrugDescription": desc,
        "Dose": dose,
        "DoseUnit": unit,
        "Frequency": freq,
        "Route": route,
        "QtyPerDelivery": qty,
        "QtyUnit": qty_unit,
    }


def long_prescription_rows(items: int, *, seed: int = 1, trust_ods: str = "RBA") -> list[dict[str, str]]:
    """JAC rows of one NEW prescription of `items` items (LineNo 1…items, medicines in turn), all on one schedule:
    more than four is what EPS takes as one prescription, so the gateway sends it in parts."""
    first = export_rows(1, seed=seed, trust_ods=trust_ods)[0]
    rows = []
    for n in range(1, items + 1):
        rows.append(first | _medicine_line(n, MEDICINES[(n - 1) % len(MEDICINES)]))
    return rows
