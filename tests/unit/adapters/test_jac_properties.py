"""Property tests for the JAC adapter: any valid export parses back to its values; no input makes it raise."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adapters.base import ParseResult
from adapters.jac import JacAdapter, render_export
from adapters.jac.columns import COLUMN_NAMES
from gateway.domain.identifiers import is_valid_nhs_number, is_valid_snomed_id, verhoeff_valid
from gateway.domain.model import (
    Action,
    Address,
    HomecarePrescription,
    Item,
    Patient,
    Prescriber,
    RegisterCodeType,
    ServiceType,
    Sex,
)

UK = ZoneInfo("Europe/London")
TODAY = date(2026, 11, 22)  # the conftest's frozen clock
SETTINGS = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
# Each example of a whole export takes a few hundred draws: fewer of them keep the unit suite quick.
SLOW_SETTINGS = settings(SETTINGS, max_examples=20)

# Real dm+d codes (shared/reference/dmd-subset.csv) and postcodes in any case and spacing.
DMD = [
    ("15517911000001104", "Methotrexate 10mg/0.2ml solution for injection pre-filled syringes"),
    ("37571311000001104", "Methofill 10mg/0.2ml solution for injection pre-filled syringes (Accord Healthcare Ltd)"),
    ("110171000001104", "Water for injections 2ml ampoules"),
    ("322236009", "Paracetamol 500mg tablets"),
    ("324689003", "Nystatin 100,000units/ml oral suspension"),
]
POSTCODES = ["SO16 6YD", "TA1 4DA", "LS1 4AP", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT"]
FREQUENCIES = ["OD", "BD", "TDS", "QDS", "OW", "EVERY 14 DAYS", "EVERY 2 WEEKS", "STAT", "PRN", "As directed"]
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_letter = st.sampled_from(UPPER)
PRESCRIBER_CODES = {
    "GMC": st.integers(0, 9_999_999).map("{:07d}".format),
    "GPHC": st.integers(0, 9_999_999).map("{:07d}".format),
    "NMC": st.builds("{:02d}{}{:04d}{}".format, st.integers(0, 99), _letter, st.integers(0, 9999), _letter),
    "HCPC": st.builds("{}{:05d}".format, st.sampled_from(["PA", "PH", "RA"]), st.integers(0, 999_999)),
}
RX_NUMBERS = st.text(UPPER + "0123456789-", min_size=1, max_size=20)


@dataclass
class Export:
    rows: list[dict[str, str]]
    expected: list[HomecarePrescription]


@st.composite
def nhs_numbers(draw: st.DrawFn) -> str:
    body = f"{draw(st.integers(0, 999_999_999)):09d}"
    check = 11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
    assume(check != 10)
    return body + str(check % 11)


@st.composite
def snomed_ids(draw: st.DrawFn) -> str:
    body = str(draw(st.integers(10_000, 10**17 - 1)))
    return next(body + d for d in "0123456789" if verhoeff_valid(body + d))


@cache
def texts(encoding: str, *, words: bool = False) -> st.SearchStrategy[str]:
    """Cell text as a trust would write it: any letters, digits, punctuation, inner spaces and line breaks."""
    if words:
        alphabet = st.characters(categories=["L"], codec=encoding)
    else:
        alphabet = st.characters(categories=["L", "N", "P", "S", "Zs"], codec=encoding) | st.just("\n")
    return st.text(alphabet, min_size=1, max_size=25).map(str.strip).filter(bool)


def optional(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), strategy)


def plain_decimals(*, positive: bool) -> st.SearchStrategy[str]:
    """`12`, `0.4`, `007.250`: kept digit for digit."""
    whole = st.integers(1 if positive else 0, 9999).map(str) | st.sampled_from(["0", "00", "007"])
    fraction = st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=3).map(".{}".format))
    numbers = st.builds("{}{}".format, whole, fraction)
    return numbers.filter(lambda s: Decimal(s) > 0) if positive else numbers


@st.composite
def prescriptions(draw: st.DrawFn, encoding: str, rx_number: str) -> Export:
    text = texts(encoding)
    action = draw(st.sampled_from(Action))
    version = draw(st.integers(2 if action is Action.AMEND else 1, 99))
    signed = draw(st.datetimes(datetime(2000, 1, 1), datetime(2030, 12, 31))).replace(second=0, microsecond=0)
    aware = signed.replace(tzinfo=UK)
    assume(aware.astimezone(UTC).astimezone(UK).replace(tzinfo=None) == signed)  # not in the skipped hour
    nhs = draw(nhs_numbers())
    forenames = draw(st.lists(texts(encoding, words=True), min_size=1, max_size=3))
    address = [draw(text), draw(optional(text)), draw(optional(text)), draw(optional(text))]
    postcode = draw(st.sampled_from(POSTCODES))
    phone, mobile = draw(st.sampled_from([("023 8079 0000", ""), ("", "07700 900123"), ("0123", "07700 900123")]))
    delivery = draw(st.none() | st.tuples(text, optional(text), optional(text), st.sampled_from(POSTCODES)))
    family, given_name = draw(text.filter(lambda s: "," not in s)), draw(text.filter(lambda s: "," not in s))
    structured = draw(st.booleans())
    code_type = draw(st.sampled_from(RegisterCodeType))
    row = {
        "Action": action.value,
        "TrustODS": draw(st.sampled_from(["RHM", "RBA", "R0A", "RTH08"])),
        "SiteCode": draw(optional(st.sampled_from(["RHM01", "RBA11"]))),
        "RxNumber": rx_number,
        "RxVersion": str(version),
        "RxDateTime": signed.strftime("%d/%m/%Y %H:%M"),
        "NHSNumber": draw(st.sampled_from([nhs, f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"])),
        "HospitalNumber": draw(optional(st.text(UPPER + "0123456789", min_size=1, max_size=20))),
        "Title": draw(optional(text)),
        "Surname": draw(text),
        "Forenames": draw(st.sampled_from([" ", "  "])).join(forenames),
        "DOB": draw(st.dates(date(1900, 1, 1), TODAY)).strftime("%d/%m/%Y"),
        "Sex": draw(st.sampled_from(Sex)).value,
        "Address1": address[0],
        "Address2": address[1],
        "Address3": address[2],
        "Address4": address[3],
        "Postcode": draw(st.sampled_from([postcode, postcode.lower(), postcode.replace(" ", "")])),
        "Phone": phone,
        "Mobile": mobile,
        "Email": draw(st.sampled_from(["", "jane@example.org"])),
        "DeliveryAddress1": delivery[0] if delivery else "",
        "DeliveryAddress2": delivery[1] if delivery else "",
        "DeliveryAddress3": delivery[2] if delivery else "",
        "DeliveryPostcode": delivery[3] if delivery else "",
        "DeliveryInstructions": draw(optional(text)),
        "PrescriberName": f"{family}, {given_name}" if structured else family,
        "PrescriberCode": draw(PRESCRIBER_CODES[code_type.value]),
        "PrescriberCodeType": code_type.value,
        "Specialty": draw(optional(text)),
        "ClinicCode": draw(optional(text)),
        "Indication": draw(text),
        "IndicationSNOMED": draw(optional(snomed_ids())),
        "ProviderODS": draw(optional(st.sampled_from(["8HV48", "FTX40", "VNCEL"]))),
        "ServiceType": draw(st.sampled_from(ServiceType)).value,
        "CancelReason": draw(text) if action is Action.CANCEL else draw(optional(text)),
    }
    line_nos = draw(st.lists(st.integers(1, 99), min_size=0 if action is Action.CANCEL else 1, max_size=3, unique=True))
    rows: list[dict[str, str]] = []
    items: list[Item] = []
    for line_no in line_nos:
        item_row, item = draw(items_for(encoding, line_no))
        rows.append({**row, **item_row})
        items.append(item)
    if not rows:
        rows.append(dict(row))
    expected = HomecarePrescription(
        action=action,
        trust_ods=row["TrustODS"],
        site_code=row["SiteCode"] or None,
        rx_number=rx_number,
        rx_version=version,
        signed_at=aware,
        patient=Patient(
            nhs_number=nhs,
            hospital_number=row["HospitalNumber"] or None,
            title=row["Title"] or None,
            family=row["Surname"],
            given=tuple(forenames),
            birth_date=datetime.strptime(row["DOB"], "%d/%m/%Y").date(),
            sex=Sex(row["Sex"]),
            address=Address(lines=tuple(a for a in address if a), postcode=postcode),
            phone=phone or None,
            mobile=mobile or None,
            email=row["Email"] or None,
        ),
        prescriber=Prescriber(
            name=row["PrescriberName"],
            family=family if structured else None,
            given=given_name if structured else None,
            code=row["PrescriberCode"],
            code_type=code_type,
            specialty=row["Specialty"] or None,
            clinic_code=row["ClinicCode"] or None,
        ),
        indication=row["Indication"],
        indication_snomed=row["IndicationSNOMED"] or None,
        provider_ods=row["ProviderODS"] or None,
        service_type=ServiceType(row["ServiceType"]),
        delivery_address=None
        if delivery is None
        else Address(lines=tuple(a for a in delivery[:3] if a), postcode=delivery[3]),
        delivery_instructions=row["DeliveryInstructions"] or None,
        cancel_reason=row["CancelReason"] or None,
        items=tuple(sorted(items, key=lambda i: i.line_no)),
        source_format="jac",
    )
    return Export(rows, [expected])


@st.composite
def items_for(draw: st.DrawFn, encoding: str, line_no: int) -> tuple[dict[str, str], Item]:
    text = texts(encoding)
    ancillary = draw(st.sampled_from(["Y", "N", ""]))
    dmd_code, description = draw(st.sampled_from(DMD))
    dosed = ancillary != "Y" or draw(st.booleans())
    row = {
        "LineNo": str(line_no),
        "DmdCode": dmd_code,
        "DrugDescription": description,
        "Dose": draw(plain_decimals(positive=False)) if dosed else "",
        "DoseUnit": draw(st.sampled_from(["mg", "ml", "pre-filled pen"])) if dosed else "",
        "Frequency": draw(st.sampled_from(FREQUENCIES)) if dosed else "",
        "Route": draw(optional(text)),
        "QtyPerDelivery": draw(plain_decimals(positive=True)),
        "QtyUnit": draw(text),
        "DaysPerDelivery": str(draw(st.integers(1, 365))),
        "NumberOfDeliveries": str(draw(st.integers(1, 52))),
        "FirstDeliveryDate": draw(
            optional(st.dates(date(2026, 1, 1), date(2027, 12, 31)).map(lambda d: d.strftime("%d/%m/%Y")))
        ),
        "ReviewDate": "",
        "Instructions": draw(optional(text)),
        "IsAncillary": ancillary,
    }
    item = Item(
        line_no=line_no,
        dmd_code=dmd_code,
        description=description,
        dose=Decimal(row["Dose"]) if dosed else None,
        dose_unit=row["DoseUnit"] or None,
        frequency=row["Frequency"] or None,
        route=row["Route"] or None,
        qty_per_delivery=Decimal(row["QtyPerDelivery"]),
        qty_unit=row["QtyUnit"],
        days_per_delivery=int(row["DaysPerDelivery"]),
        number_of_deliveries=int(row["NumberOfDeliveries"]),
        first_delivery_date=datetime.strptime(row["FirstDeliveryDate"], "%d/%m/%Y").date()
        if row["FirstDeliveryDate"]
        else None,
        instructions=row["Instructions"] or None,
        is_ancillary=ancillary == "Y",
    )
    return row, item


@st.composite
def exports(draw: st.DrawFn) -> tuple[bytes, Export, str]:
    """One to three prescriptions, rows shuffled together, any column order, header case, quoting and line ending."""
    encoding = draw(st.sampled_from(["utf-8", "cp1252"]))
    numbers = draw(st.lists(RX_NUMBERS, min_size=1, max_size=3, unique=True))
    parts = [draw(prescriptions(encoding, number)) for number in numbers]
    rows = draw(st.permutations([row for part in parts for row in part.rows]))
    columns = draw(st.permutations(COLUMN_NAMES))
    header = [draw(st.sampled_from([name, name.upper(), name.lower(), f" {name} "])) for name in columns]
    newline = draw(st.sampled_from(["\r\n", "\n"]))
    quote_all = draw(st.booleans())
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=newline, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
        if draw(st.booleans()):
            out.write(newline)  # blank lines are ignored
    text = out.getvalue()
    payload = ("\ufeff" + text).encode("utf-8") if encoding == "utf-8" else text.encode("cp1252")
    return payload, Export(rows, [e for part in parts for e in part.expected]), encoding


@SETTINGS
@given(exports())
def test_any_valid_export_parses_back_to_its_values(jac: JacAdapter, export: tuple[bytes, Export, str]) -> None:
    payload, expected, _ = export

    result = jac.parse(payload)

    assert not result.file_rejected, result.file_issues
    assert {p.rx_number: p.issues for p in result.prescriptions} == {e.rx_number: [] for e in expected.expected}
    assert sorted((p.prescription for p in result.prescriptions), key=_rx) == sorted(expected.expected, key=_rx)


@SLOW_SETTINGS
@given(st.lists(st.tuples(st.sampled_from(COLUMN_NAMES), st.text(max_size=12)), max_size=6), st.data())
def test_any_damage_to_a_valid_export_is_reported_not_raised(
    jac: JacAdapter, damage: list[tuple[str, str]], data: st.DataObject
) -> None:
    payload, export, _ = data.draw(exports())
    rows = [dict(row) for row in export.rows]
    for column, value in damage:
        data.draw(st.sampled_from(rows))[column] = value

    result = jac.parse(render_export(rows))

    _assert_consistent(result)


@SETTINGS
@given(st.binary(max_size=2000))
def test_garbage_bytes_never_raise(jac: JacAdapter, payload: bytes) -> None:
    _assert_consistent(jac.parse(payload))


@SLOW_SETTINGS
@given(st.data())
def test_byte_level_corruption_never_raises(jac: JacAdapter, data: st.DataObject) -> None:
    payload, _, _ = data.draw(exports())
    cut = data.draw(st.integers(0, len(payload)))
    junk = data.draw(st.binary(max_size=8))

    _assert_consistent(jac.parse(payload[:cut] + junk + payload[cut + len(junk) :]))


@SETTINGS
@given(st.text(st.characters(codec="utf-8"), max_size=400))
def test_any_text_after_a_valid_header_never_raises(jac: JacAdapter, text: str) -> None:
    _assert_consistent(jac.parse(render_export([]) + text.encode("utf-8")))


def _assert_consistent(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    if result.file_rejected:
        assert result.prescriptions == []
    for parsed in result.prescriptions:
        assert parsed.lines
        assert (parsed.prescription is None) == bool(parsed.errors)
        for issue in parsed.errors:
            assert issue.code.isupper() and issue.location.line in parsed.lines and issue.message


def _rx(prescription: HomecarePrescription | None) -> str:
    assert prescription is not None
    return prescription.rx_number


@given(nhs_numbers(), snomed_ids())
def test_the_generators_make_valid_identifiers(nhs: str, snomed: str) -> None:
    assert is_valid_nhs_number(nhs) and is_valid_snomed_id(snomed)
