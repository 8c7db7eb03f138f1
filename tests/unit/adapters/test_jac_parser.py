"""The JAC CSV adapter against its spec (shared/specs/jac-homecare-export.md v1.2), plus golden files."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.base import ParsedPrescription, ParseResult
from adapters.jac import JacAdapter, render_export
from adapters.jac.columns import COLUMN_NAMES, MANDATORY_COLUMNS, PRESCRIPTION_COLUMNS
from adapters.registry import adapter_for
from gateway.domain.model import (
    Action,
    Address,
    HomecarePrescription,
    Item,
    Patient,
    Prescriber,
    PrescriberCodeType,
    ServiceType,
    Sex,
)
from gateway.errors import Issue

UK = ZoneInfo("Europe/London")
GOLDEN = Path(__file__).parents[2] / "data" / "jac"

# The spec's example file, `<dm+d code>` replaced by real codes, CRLF as the spec requires.
SPEC_EXAMPLE = (
    "Action,TrustODS,RxNumber,RxVersion,RxDateTime,NHSNumber,HospitalNumber,Title,Surname,Forenames,DOB,Sex,Address1,"
    "Address2,Postcode,Phone,Mobile,PrescriberName,PrescriberCode,PrescriberCodeType,Specialty,Indication,ProviderODS,"
    "ServiceType,LineNo,DmdCode,DrugDescription,Dose,DoseUnit,Frequency,Route,QtyPerDelivery,QtyUnit,DaysPerDelivery,"
    "NumberOfDeliveries,FirstDeliveryDate,Instructions,IsAncillary\r\n"
    "NEW,RHM,HC-26-004711,1,21/11/2026 14:05,943 476 5919,K1234567,Mrs,SMITH,Jane Anne,14/02/1968,F,12 Tremona Road,"
    'Southampton,SO16 6YD,023 8079 0000,07700 900123,"JONES, Alan",4123456,GMC,Rheumatology,Rheumatoid arthritis,,'
    "DELIVERY,1,15517911000001104,Methotrexate 10mg/0.2ml solution for injection pre-filled syringes,10,mg,OW,"
    "Subcutaneous,4,pre-filled syringe,28,6,01/12/2026,Store below 25C,N\r\n"
    "NEW,RHM,HC-26-004711,1,21/11/2026 14:05,943 476 5919,K1234567,Mrs,SMITH,Jane Anne,14/02/1968,F,12 Tremona Road,"
    'Southampton,SO16 6YD,023 8079 0000,07700 900123,"JONES, Alan",4123456,GMC,Rheumatology,Rheumatoid arthritis,,'
    "DELIVERY,2,110171000001104,Water for injections 2ml ampoules,,,,,1,ampoule,168,1,,,Y\r\n"
)

EXPECTED_EXAMPLE = HomecarePrescription(
    action=Action.NEW,
    trust_ods="RHM",
    rx_number="HC-26-004711",
    rx_version=1,
    signed_at=datetime(2026, 11, 21, 14, 5, tzinfo=UK),
    patient=Patient(
        nhs_number="9434765919",
        hospital_number="K1234567",
        title="Mrs",
        family="SMITH",
        given=("Jane", "Anne"),
        birth_date=date(1968, 2, 14),
        sex=Sex.FEMALE,
        address=Address(lines=("12 Tremona Road", "Southampton"), postcode="SO16 6YD"),
        phone="023 8079 0000",
        mobile="07700 900123",
    ),
    prescriber=Prescriber(
        name="JONES, Alan",
        family="JONES",
        given="Alan",
        code="4123456",
        code_type=PrescriberCodeType.GMC,
        specialty="Rheumatology",
    ),
    indication="Rheumatoid arthritis",
    service_type=ServiceType.DELIVERY,
    items=(
        Item(
            line_no=1,
            dmd_code="15517911000001104",
            description="Methotrexate 10mg/0.2ml solution for injection pre-filled syringes",
            dose=Decimal("10"),
            dose_unit="mg",
            frequency="OW",
            route="Subcutaneous",
            qty_per_delivery=Decimal("4"),
            qty_unit="pre-filled syringe",
            days_per_delivery=28,
            number_of_deliveries=6,
            first_delivery_date=date(2026, 12, 1),
            instructions="Store below 25C",
            is_ancillary=False,
        ),
        Item(
            line_no=2,
            dmd_code="110171000001104",
            description="Water for injections 2ml ampoules",
            qty_per_delivery=Decimal("1"),
            qty_unit="ampoule",
            days_per_delivery=168,
            number_of_deliveries=1,
            is_ancillary=True,
        ),
    ),
    source_format="jac",
)


def parse(jac: JacAdapter, rows: list[dict[str, str]], columns: list[str] | None = None) -> ParseResult:
    return jac.parse(render_export(rows, columns))


def only(result: ParseResult) -> ParsedPrescription:
    assert not result.file_rejected, result.file_issues
    assert len(result.prescriptions) == 1, result.prescriptions
    return result.prescriptions[0]


def patient_of(result: ParseResult) -> Patient:
    prescription = only(result).prescription
    assert prescription is not None and prescription.patient is not None
    return prescription.patient


def located(issues: list[Issue]) -> set[tuple[str, int | None, str | None]]:
    return {(i.code, i.location.line, i.location.column) for i in issues}


def set_all(rows: list[dict[str, str]], **values: str) -> list[dict[str, str]]:
    """Prescription-level values are repeated on every row."""
    for row in rows:
        row.update(values)
    return rows


# --- the spec's example and the file format -------------------------------------------------------------------


def test_spec_example_parses_into_the_canonical_model(jac: JacAdapter) -> None:
    result = jac.parse(SPEC_EXAMPLE.encode("cp1252"))

    parsed = only(result)
    assert result.format == "jac"
    assert result.file_issues == []
    assert (parsed.rx_number, parsed.rx_version, parsed.lines) == ("HC-26-004711", "1", [2, 3])
    assert parsed.issues == []
    assert parsed.accepted
    assert parsed.prescription == EXPECTED_EXAMPLE
    assert parsed.prescription is not None
    assert parsed.prescription.signed_at.utcoffset() == EXPECTED_EXAMPLE.signed_at.utcoffset()


def test_rows_rendered_by_the_writer_parse_like_the_spec_example(
    jac: JacAdapter, example_rows: list[dict[str, str]], example_columns: list[str]
) -> None:
    assert only(parse(jac, example_rows, example_columns)).prescription == EXPECTED_EXAMPLE
    assert only(parse(jac, example_rows)).prescription == EXPECTED_EXAMPLE


def test_column_order_and_header_case_do_not_matter(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    columns = list(reversed(COLUMN_NAMES))
    text = render_export(example_rows, columns).decode("utf-8-sig")
    header, rest = text.split("\r\n", 1)
    mangled = ",".join(f"  {name.upper()} " if i % 2 else name.lower() for i, name in enumerate(header.split(",")))

    result = jac.parse(("\ufeff" + mangled + "\r\n" + rest).encode("utf-8"))

    assert only(result).prescription == EXPECTED_EXAMPLE


def test_unknown_columns_are_ignored_with_one_warning(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    for row in example_rows:
        row["WardName"] = "Ward 7"
        row["Colour"] = "blue"

    result = parse(jac, example_rows)

    assert not result.file_rejected
    assert [(i.code, i.severity, i.location.line) for i in result.file_issues] == [("UNKNOWN_COLUMN", "warning", 1)]
    assert "WardName" in result.file_issues[0].message and "Colour" in result.file_issues[0].message
    assert only(result).prescription == EXPECTED_EXAMPLE


@pytest.mark.parametrize("missing", ["DmdCode", "NHSNumber", "RxVersion", "ReviewDate"])
def test_a_missing_column_is_one_file_error_naming_it(
    jac: JacAdapter, example_rows: list[dict[str, str]], missing: str
) -> None:
    columns = [c for c in COLUMN_NAMES if c != missing]
    for row in example_rows:
        row.pop(missing, None)

    result = parse(jac, example_rows, columns)

    if missing in MANDATORY_COLUMNS:
        assert result.file_rejected
        assert result.prescriptions == []
        [issue] = result.file_issues
        assert (issue.code, issue.location.line, issue.location.column) == ("MISSING_COLUMN", 1, missing)
        assert missing in issue.message
    else:  # an optional column may be left out of the header
        assert only(result).accepted


def test_several_missing_columns_are_named_in_one_error(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    columns = [c for c in COLUMN_NAMES if c not in ("Surname", "QtyUnit")]
    rows = [{k: v for k, v in row.items() if k in columns} for row in example_rows]

    [issue] = parse(jac, rows, columns).file_issues

    assert issue.code == "MISSING_COLUMN"
    assert "Surname" in issue.message and "QtyUnit" in issue.message


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01", "NOT_CSV"),
        (bytes(range(256)), "NOT_CSV"),
        (b'<?xml version="1.0"?><HomecareExport><Rx/></HomecareExport>', "NOT_CSV"),
        (b'{"resourceType": "Bundle"}', "NOT_CSV"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "NOT_CSV"),
        (b"MSH|^~\\&|JAC|RHM|HGW||20261121||OMP^O09|1|P|2.5\r", "NOT_CSV"),
        (b"\xef\xbb\xbfAction,TrustODS\r\n\xff\xfe\r\n", "INVALID_ENCODING"),
        (b"Action,TrustODS\r\n\x81\r\n", "INVALID_ENCODING"),
        (b"", "NO_HEADER"),
        (b"\r\n\r\n\n", "NO_HEADER"),
        (b"name,age\r\nZoe,41\r\n", "NO_HEADER"),
        (",".join(COLUMN_NAMES).encode() + b'\r\nNEW,RHM,"HC-1\r\n', "MALFORMED_CSV"),
        (",".join(COLUMN_NAMES).encode() + b'\r\nNEW,"RHM"x,HC-1\r\n', "MALFORMED_CSV"),
    ],
)
def test_what_is_not_a_jac_csv_is_rejected_as_a_whole(jac: JacAdapter, payload: bytes, code: str) -> None:
    result = jac.parse(payload)

    assert result.file_rejected
    assert result.prescriptions == []
    assert [i.code for i in result.file_issues] == [code]
    assert result.file_issues[0].message


def test_a_column_named_twice_rejects_the_file(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    text = render_export(example_rows).decode("utf-8-sig").replace("Surname", "surname", 1)
    text = text.replace("Forenames", "SURNAME", 1)

    [issue] = jac.parse(text.encode("utf-8-sig")).file_issues

    assert (issue.code, issue.location.column) == ("DUPLICATE_COLUMN", "Surname")


def test_windows_1252_is_the_default_encoding(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    set_all(example_rows, Forenames="Zoë", Surname="Ó Briain")
    payload = render_export(example_rows).decode("utf-8-sig").encode("cp1252")
    assert "ë".encode("cp1252") in payload

    patient = patient_of(jac.parse(payload))

    assert (patient.given, patient.family) == (("Zoë",), "Ó Briain")


def test_a_byte_order_mark_means_utf8(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    set_all(example_rows, Forenames="Łukasz")
    payload = render_export(example_rows)
    assert payload.startswith(b"\xef\xbb\xbf")

    result = jac.parse(payload)

    assert result.file_issues == []
    assert patient_of(result).given == ("Łukasz",)


def test_utf8_without_a_byte_order_mark_is_read_as_1252_with_a_warning(
    jac: JacAdapter, example_rows: list[dict[str, str]]
) -> None:
    set_all(example_rows, Forenames="Zoë")
    result = jac.parse(render_export(example_rows).removeprefix(b"\xef\xbb\xbf"))

    assert [(i.code, i.severity) for i in result.file_issues] == [("POSSIBLE_UTF8_WITHOUT_BOM", "warning")]
    assert patient_of(result).given == ("ZoÃ«",)  # what the spec's default encoding makes of it


def test_quoted_commas_and_line_breaks_keep_line_numbers_right(
    jac: JacAdapter, example_rows: list[dict[str, str]]
) -> None:
    example_rows[0]["Instructions"] = 'Store in a fridge,\r\nnot the freezer;\nsay "cold chain"'
    other = [dict(row, RxNumber="HC-26-004712") for row in example_rows]
    example_rows[1]["DmdCode"] = "15517911000001105"  # one error after the multi-line record, to check its line

    result = parse(jac, example_rows + other)

    first, second = result.prescriptions
    assert first.lines == [2, 5]
    assert located(first.issues) == {("INVALID_DMD_CODE", 5, "DmdCode")}
    assert second.lines == [6, 9]
    assert second.prescription is not None
    assert second.prescription.items[0].instructions == 'Store in a fridge,\r\nnot the freezer;\nsay "cold chain"'


def test_lf_line_endings_and_blank_lines_are_accepted(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    lines = render_export(example_rows).decode("utf-8-sig").split("\r\n")
    text = "\n\n".join(lines[:2]) + "\n\n  \n,,,\n" + "\n".join(lines[2:])

    parsed = only(jac.parse(text.encode("cp1252")))

    assert parsed.lines == [3, 7]
    assert parsed.prescription == EXPECTED_EXAMPLE


def test_rows_of_one_prescription_are_grouped_wherever_they_stand(
    jac: JacAdapter, example_rows: list[dict[str, str]]
) -> None:
    other = [dict(row, RxNumber="HC-26-004712") for row in example_rows]
    amended = [dict(row, Action="AMEND", RxVersion="2") for row in example_rows]
    rows = [example_rows[1], other[0], amended[1], example_rows[0], other[1], amended[0]]

    result = parse(jac, rows)

    assert [(p.rx_number, p.rx_version, p.lines) for p in result.prescriptions] == [
        ("HC-26-004711", "1", [2, 5]),
        ("HC-26-004712", "1", [3, 6]),
        ("HC-26-004711", "2", [4, 7]),
    ]
    assert all(p.accepted for p in result.prescriptions)
    assert result.prescriptions[0].prescription == EXPECTED_EXAMPLE  # items in LineNo order, not file order


def test_prescription_columns_must_agree_across_rows(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    example_rows[1]["Surname"] = "SMYTH"
    example_rows[1]["DOB"] = "15/02/1968"

    parsed = only(parse(jac, example_rows))

    assert parsed.prescription is None
    assert located(parsed.issues) == {("INCONSISTENT_VALUE", 3, "Surname"), ("INCONSISTENT_VALUE", 3, "DOB")}
    surname = next(i for i in parsed.issues if i.location.column == "Surname")
    assert (surname.value, surname.expected) == ("SMYTH", "SMITH")
    assert "line 2" in surname.message and "SMYTH" in surname.message and "SMITH" in surname.message


def test_one_bad_prescription_does_not_block_a_good_one(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    bad = [dict(row, RxNumber="HC-26-004712", NHSNumber="943 476 5918") for row in example_rows]

    result = parse(jac, bad + example_rows)

    rejected, accepted = result.prescriptions
    assert not result.file_rejected
    assert (rejected.rx_number, rejected.accepted, rejected.prescription) == ("HC-26-004712", False, None)
    assert located(rejected.errors) == {("INVALID_NHS_NUMBER", 2, "NHSNumber")}
    assert accepted.accepted and accepted.prescription == EXPECTED_EXAMPLE


def test_every_error_of_a_prescription_is_reported(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    set_all(example_rows, NHSNumber="1234567890", DOB="31/02/1968", Postcode="XX")
    example_rows[0]["Dose"] = "1e3"
    example_rows[1]["DaysPerDelivery"] = "400"

    parsed = only(parse(jac, example_rows))

    assert parsed.prescription is None
    assert [(i.code, i.location.line, i.location.column, i.value) for i in parsed.issues] == [
        ("INVALID_NHS_NUMBER", 2, "NHSNumber", "1234567890"),
        ("INVALID_DATE", 2, "DOB", "31/02/1968"),
        ("INVALID_POSTCODE", 2, "Postcode", "XX"),
        ("INVALID_DECIMAL", 2, "Dose", "1e3"),
        ("OUT_OF_RANGE", 3, "DaysPerDelivery", "400"),
    ]
    for issue in parsed.issues:
        assert issue.severity == "error" and issue.expected and issue.message.startswith(f"line {issue.location.line}")


# --- one failing case per field rule ----------------------------------------------------------------------------

PRESCRIPTION_RULES = [
    ("Action", "ADD", "INVALID_CODE"),
    ("Action", "new", "INVALID_CODE"),
    ("Action", "", "MISSING_VALUE"),
    ("TrustODS", "RH", "INVALID_ODS_CODE"),
    ("TrustODS", "RHM0", "INVALID_ODS_CODE"),
    ("TrustODS", "", "MISSING_VALUE"),
    ("SiteCode", "RHM-1", "INVALID_ODS_CODE"),
    ("RxNumber", "hc-26-004711", "INVALID_FORMAT"),
    ("RxNumber", "HC 26 004711", "INVALID_FORMAT"),
    ("RxNumber", "H" * 21, "INVALID_FORMAT"),
    ("RxNumber", "", "MISSING_VALUE"),
    ("RxVersion", "0", "OUT_OF_RANGE"),
    ("RxVersion", "1.0", "INVALID_INTEGER"),
    ("RxVersion", "", "MISSING_VALUE"),
    ("RxDateTime", "2026-11-21 14:05", "INVALID_DATETIME"),
    ("RxDateTime", "21/11/2026", "INVALID_DATETIME"),
    ("RxDateTime", "21/11/2026 24:05", "INVALID_DATETIME"),
    ("RxDateTime", "29/03/2026 01:30", "INVALID_DATETIME"),  # the hour the clocks skip
    ("RxDateTime", "", "MISSING_VALUE"),
    ("NHSNumber", "943 476 5918", "INVALID_NHS_NUMBER"),
    ("NHSNumber", "943476591", "INVALID_NHS_NUMBER"),
    ("NHSNumber", "943-476-5919", "INVALID_NHS_NUMBER"),
    ("NHSNumber", "", "MISSING_VALUE"),
    ("HospitalNumber", "K" * 21, "TOO_LONG"),
    ("Surname", "", "MISSING_VALUE"),
    ("Forenames", "", "MISSING_VALUE"),
    ("DOB", "1968-02-14", "INVALID_DATE"),
    ("DOB", "30/02/1968", "INVALID_DATE"),
    ("DOB", "23/11/2026", "FUTURE_DATE"),
    ("DOB", "", "MISSING_VALUE"),
    ("Sex", "Female", "INVALID_CODE"),
    ("Sex", "", "MISSING_VALUE"),
    ("Address1", "", "MISSING_VALUE"),
    ("Postcode", "SO16", "INVALID_POSTCODE"),
    ("Postcode", "", "MISSING_VALUE"),
    ("Email", "jane.smith", "INVALID_FORMAT"),
    ("PrescriberName", "", "MISSING_VALUE"),
    ("PrescriberCode", "412345", "INVALID_PRESCRIBER_CODE"),
    ("PrescriberCode", "", "MISSING_VALUE"),
    ("PrescriberCodeType", "GMX", "INVALID_CODE"),
    ("PrescriberCodeType", "", "MISSING_VALUE"),
    ("Indication", "", "MISSING_VALUE"),
    ("IndicationSNOMED", "69896005", "INVALID_SNOMED_CODE"),
    ("ProviderODS", "8HV4", "INVALID_ODS_CODE"),
    ("ServiceType", "HOME", "INVALID_CODE"),
    ("ServiceType", "", "MISSING_VALUE"),
]
ITEM_RULES = [
    ("LineNo", "0", "OUT_OF_RANGE"),
    ("LineNo", "one", "INVALID_INTEGER"),
    ("LineNo", "", "MISSING_VALUE"),
    ("DmdCode", "15517911000001105", "INVALID_DMD_CODE"),
    ("DmdCode", "12345", "INVALID_DMD_CODE"),
    ("DmdCode", "", "MISSING_VALUE"),
    ("DrugDescription", "", "MISSING_VALUE"),
    ("Dose", "1e3", "INVALID_DECIMAL"),
    ("Dose", "NaN", "INVALID_DECIMAL"),
    ("Dose", "1,000", "INVALID_DECIMAL"),
    ("Dose", "0,4", "INVALID_DECIMAL"),
    ("Dose", "-1", "INVALID_DECIMAL"),
    ("Dose", "", "MISSING_VALUE"),
    ("DoseUnit", "", "MISSING_VALUE"),
    ("Frequency", "", "MISSING_VALUE"),
    ("QtyPerDelivery", "0", "OUT_OF_RANGE"),
    ("QtyPerDelivery", "Infinity", "INVALID_DECIMAL"),
    ("QtyPerDelivery", "", "MISSING_VALUE"),
    ("QtyUnit", "", "MISSING_VALUE"),
    ("DaysPerDelivery", "0", "OUT_OF_RANGE"),
    ("DaysPerDelivery", "366", "OUT_OF_RANGE"),
    ("DaysPerDelivery", "", "MISSING_VALUE"),
    ("NumberOfDeliveries", "53", "OUT_OF_RANGE"),
    ("NumberOfDeliveries", "", "MISSING_VALUE"),
    ("FirstDeliveryDate", "1/12/2026", "INVALID_DATE"),
    ("ReviewDate", "2027-01-01", "INVALID_DATE"),
    ("IsAncillary", "Yes", "INVALID_CODE"),
]


@pytest.mark.parametrize(("column", "value", "code"), PRESCRIPTION_RULES)
def test_prescription_field_rules(
    jac: JacAdapter, example_rows: list[dict[str, str]], column: str, value: str, code: str
) -> None:
    set_all(example_rows, **{column: value})

    parsed = only(parse(jac, example_rows))

    assert parsed.prescription is None
    [issue] = parsed.issues
    assert (issue.code, issue.location.line, issue.location.column, issue.value) == (code, 2, column, value)
    assert issue.expected


@pytest.mark.parametrize(("column", "value", "code"), ITEM_RULES)
def test_item_field_rules(
    jac: JacAdapter, example_rows: list[dict[str, str]], column: str, value: str, code: str
) -> None:
    example_rows[0][column] = value

    parsed = only(parse(jac, example_rows))

    assert parsed.prescription is None
    [issue] = parsed.issues
    assert (issue.code, issue.location.line, issue.location.column, issue.value) == (code, 2, column, value)
    assert issue.expected


def test_phone_or_mobile_is_required(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    assert only(parse(jac, set_all(example_rows, Phone=""))).accepted
    assert only(parse(jac, set_all(example_rows, Phone="0123", Mobile=""))).accepted

    parsed = only(parse(jac, set_all(example_rows, Phone="", Mobile="")))

    assert located(parsed.issues) == {("MISSING_VALUE", 2, "Phone")}


def test_delivery_address(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    set_all(
        example_rows,
        DeliveryAddress1="Unit 4",
        DeliveryAddress3="Eastleigh",
        DeliveryPostcode="so50 9nl",
        DeliveryInstructions="Leave with neighbour at no. 12",
    )

    prescription = only(parse(jac, example_rows)).prescription

    assert prescription is not None
    assert prescription.delivery_address == Address(lines=("Unit 4", "Eastleigh"), postcode="SO50 9NL")
    assert prescription.delivery_instructions == "Leave with neighbour at no. 12"
    assert EXPECTED_EXAMPLE.delivery_address is None


def test_delivery_postcode_is_required_with_a_delivery_address(
    jac: JacAdapter, example_rows: list[dict[str, str]]
) -> None:
    assert located(only(parse(jac, set_all(example_rows, DeliveryAddress1="Unit 4"))).issues) == {
        ("MISSING_VALUE", 2, "DeliveryPostcode")
    }
    assert located(only(parse(jac, set_all(example_rows, DeliveryPostcode="SO16"))).issues) == {
        ("INVALID_POSTCODE", 2, "DeliveryPostcode")
    }


def test_delivery_address_lines_need_the_first_one(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    set_all(example_rows, DeliveryAddress2="Eastleigh", DeliveryPostcode="SO50 9NL")

    assert located(only(parse(jac, example_rows)).issues) == {("MISSING_VALUE", 2, "DeliveryAddress1")}


def test_ancillary_items_need_no_dose_but_dose_and_unit_go_together(
    jac: JacAdapter, example_rows: list[dict[str, str]]
) -> None:
    example_rows[1]["DoseUnit"] = "bin"
    assert located(only(parse(jac, example_rows)).issues) == {("MISSING_VALUE", 3, "Dose")}

    example_rows[1].update(Dose="1", DoseUnit="")
    assert located(only(parse(jac, example_rows)).issues) == {("MISSING_VALUE", 3, "DoseUnit")}

    example_rows[1].update(IsAncillary="")  # default N: Dose, DoseUnit and Frequency become mandatory
    assert located(only(parse(jac, example_rows)).issues) == {
        ("MISSING_VALUE", 3, "DoseUnit"),
        ("MISSING_VALUE", 3, "Frequency"),
    }


def test_is_ancillary_defaults_to_no(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    example_rows[0]["IsAncillary"] = ""

    prescription = only(parse(jac, example_rows)).prescription

    assert prescription is not None and prescription.items[0].is_ancillary is False


def test_line_numbers_must_be_unique_within_a_prescription(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    example_rows[1]["LineNo"] = "1"

    parsed = only(parse(jac, example_rows))

    [issue] = parsed.issues
    assert (issue.code, issue.location.line, issue.location.column, issue.value) == (
        "DUPLICATE_LINE_NO",
        3,
        "LineNo",
        "1",
    )
    assert "line 2" in issue.message


def test_an_amend_cannot_be_version_one(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    assert located(only(parse(jac, set_all(example_rows, Action="AMEND"))).issues) == {
        ("INVALID_VERSION", 2, "RxVersion")
    }

    amended = only(parse(jac, set_all(example_rows, Action="AMEND", RxVersion="2"))).prescription

    assert amended is not None and (amended.action, amended.rx_version) == (Action.AMEND, 2)


def test_a_row_with_the_wrong_number_of_fields_is_reported_once(
    jac: JacAdapter, example_rows: list[dict[str, str]]
) -> None:
    text = render_export(example_rows).decode("utf-8-sig")
    header, first, second, _ = text.split("\r\n")
    width = header.count(",") + 1

    parsed = only(jac.parse(f"{header}\r\n{first}\r\n{second},extra\r\n".encode("cp1252")))

    assert parsed.prescription is None
    [issue] = parsed.issues
    assert (issue.code, issue.location.line, issue.value, issue.expected) == (
        "WRONG_FIELD_COUNT",
        3,
        str(width + 1),
        f"{width} fields, as in the header",
    )


# --- conversions ------------------------------------------------------------------------------------------------


def test_cancel_may_be_a_single_row_without_items(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    row = {k: v for k, v in example_rows[0].items() if k in PRESCRIPTION_COLUMNS}
    row.update(Action="CANCEL", RxVersion="2", CancelReason="Treatment stopped by consultant")

    prescription = only(parse(jac, [row])).prescription

    assert prescription is not None
    assert (prescription.action, prescription.items) == (Action.CANCEL, ())
    assert prescription.cancel_reason == "Treatment stopped by consultant"


def test_cancel_needs_a_reason(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    parsed = only(parse(jac, set_all(example_rows, Action="CANCEL")))

    assert located(parsed.issues) == {("MISSING_VALUE", 2, "CancelReason")}


def test_decimals_are_kept_exactly(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    example_rows[0].update(Dose="0.4", DoseUnit="ml", QtyPerDelivery="2.50")

    prescription = only(parse(jac, example_rows)).prescription

    assert prescription is not None
    item = prescription.items[0]
    assert isinstance(item.dose, Decimal) and str(item.dose) == "0.4"
    assert str(item.qty_per_delivery) == "2.50"
    assert prescription.model_dump(mode="json")["items"][0]["dose"] == "0.4"


def test_dates_of_birth_in_the_future_are_refused(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    assert only(parse(jac, set_all(example_rows, DOB="22/11/2026"))).accepted  # today (FROZEN_NOW) is fine

    [issue] = only(parse(jac, set_all(example_rows, DOB="01/01/2030"))).issues

    assert (issue.code, issue.location.line, issue.location.column, issue.value) == (
        "FUTURE_DATE",
        2,
        "DOB",
        "01/01/2030",
    )


@pytest.mark.parametrize(
    ("local", "utc_offset_hours"),
    [("21/11/2026 14:05", 0), ("01/07/2026 09:00", 1), ("25/10/2026 01:30", 1), ("25/10/2026 02:30", 0)],
)
def test_signing_time_is_uk_local_time(
    jac: JacAdapter, example_rows: list[dict[str, str]], local: str, utc_offset_hours: int
) -> None:
    prescription = only(parse(jac, set_all(example_rows, RxDateTime=local))).prescription

    assert prescription is not None
    offset = prescription.signed_at.utcoffset()
    assert offset is not None and offset.total_seconds() == utc_offset_hours * 3600
    assert prescription.signed_at.strftime("%d/%m/%Y %H:%M") == local


def test_identifiers_are_normalised(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    set_all(
        example_rows,
        NHSNumber="9434765919",
        Postcode="so166yd",
        IndicationSNOMED="69896004",
        ProviderODS="8HV48",
        SiteCode="RHM01",
        PrescriberCode="12A3456E",
        PrescriberCodeType="NMC",
        Forenames="  Jane   Anne ",
    )

    prescription = only(parse(jac, example_rows)).prescription

    assert prescription is not None and prescription.patient is not None and prescription.prescriber is not None
    assert prescription.patient.nhs_number == "9434765919"
    assert prescription.patient.address.postcode == "SO16 6YD"
    assert prescription.patient.given == ("Jane", "Anne")
    assert (prescription.indication_snomed, prescription.provider_ods, prescription.site_code) == (
        "69896004",
        "8HV48",
        "RHM01",
    )
    assert (prescription.prescriber.code, prescription.prescriber.code_type) == ("12A3456E", PrescriberCodeType.NMC)


@pytest.mark.parametrize(
    ("name", "family", "given"),
    [
        ("JONES, Alan", "JONES", "Alan"),
        ("Dr A Jones", None, None),
        ("JONES,", None, None),
        ("O'BRIEN-SMITH,  Mary Ann ", "O'BRIEN-SMITH", "Mary Ann"),
    ],
)
def test_prescriber_name(
    jac: JacAdapter, example_rows: list[dict[str, str]], name: str, family: str | None, given: str | None
) -> None:
    prescription = only(parse(jac, set_all(example_rows, PrescriberName=name))).prescription

    assert prescription is not None and prescription.prescriber is not None
    assert (prescription.prescriber.name, prescription.prescriber.family, prescription.prescriber.given) == (
        name.strip(),
        family,
        given,
    )


def test_prescriber_code_format_follows_its_register(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    set_all(example_rows, PrescriberCode="4123456", PrescriberCodeType="NMC")

    [issue] = only(parse(jac, example_rows)).issues

    assert (issue.code, issue.location.column, issue.value) == ("INVALID_PRESCRIBER_CODE", "PrescriberCode", "4123456")
    assert issue.expected is not None and "12A3456E" in issue.expected


def test_the_adapter_is_registered_for_csv(jac: JacAdapter) -> None:
    adapter = adapter_for("text/csv; charset=windows-1252")

    assert isinstance(adapter, JacAdapter)
    assert (jac.name, jac.media_types) == ("jac", ("text/csv", "application/csv"))


# --- the writer -------------------------------------------------------------------------------------------------


def test_writer_output_is_crlf_utf8_with_bom() -> None:
    rows = [{"RxNumber": "HC-1", "PrescriberName": "JONES, Alan"}, {"RxNumber": "HC-2", "Surname": 'Ó "Bri"'}]

    payload = render_export(rows, ["RxNumber", "PrescriberName", "Surname"])

    assert payload == ('\ufeffRxNumber,PrescriberName,Surname\r\nHC-1,"JONES, Alan",\r\nHC-2,,"Ó ""Bri"""\r\n'.encode())


def test_writer_defaults_to_every_spec_column_then_extra_ones() -> None:
    header = render_export([{"Ward": "7", "RxNumber": "HC-1"}]).decode("utf-8-sig").split("\r\n")[0]

    assert header.split(",") == [*COLUMN_NAMES, "Ward"]


def test_writer_refuses_keys_outside_explicit_columns() -> None:
    with pytest.raises(ValueError, match="Surname"):
        render_export([{"RxNumber": "1", "Surname": "X"}], ["RxNumber"])


def test_writer_round_trips_through_the_parser(jac: JacAdapter, example_rows: list[dict[str, str]]) -> None:
    example_rows[0]["Instructions"] = 'Two "pens", then\r\none'
    set_all(example_rows, Surname="Ó Briain", Forenames="Łukasz")

    parsed = only(parse(jac, example_rows))

    assert parsed.prescription is not None and parsed.prescription.patient is not None
    assert parsed.prescription.items[0].instructions == 'Two "pens", then\r\none'
    assert parsed.prescription.patient.family == "Ó Briain"
    assert parsed.lines == [2, 4]


# --- golden files -----------------------------------------------------------------------------------------------


def as_golden(result: ParseResult) -> dict[str, object]:
    return {
        "format": result.format,
        "file_issues": [i.as_dict() for i in result.file_issues],
        "prescriptions": [
            {
                "rx_number": p.rx_number,
                "rx_version": p.rx_version,
                "lines": p.lines,
                "accepted": p.accepted,
                "issues": [i.as_dict() for i in p.issues],
                "prescription": None if p.prescription is None else p.prescription.model_dump(mode="json"),
            }
            for p in result.prescriptions
        ],
    }


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir() if (p / "input.csv").exists()))
def test_golden_files(jac: JacAdapter, case: str) -> None:
    folder = GOLDEN / case
    actual = as_golden(jac.parse((folder / "input.csv").read_bytes()))
    expected_file = folder / "expected.json"
    if os.environ.get("HGW_UPDATE_GOLDEN") == "1":  # regenerate, then review the diff before committing
        expected_file.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    assert actual == json.loads(expected_file.read_text(encoding="utf-8"))


def test_there_are_golden_cases() -> None:
    assert len([p for p in GOLDEN.iterdir() if (p / "input.csv").exists()]) >= 2


# --- limits (spec v1.2 "size": up to 5,000 prescriptions per file, as Ascribe and HL7 v2) -----------------------------


def test_five_thousand_prescriptions_are_read_and_one_more_refuses_the_file(
    jac: JacAdapter, example_rows: list[dict[str, str]]
) -> None:
    first = example_rows[0]
    many = [{**first, "RxNumber": f"HC-26-{n:06d}", "LineNo": "1"} for n in range(5000)]
    assert len(parse(jac, many).prescriptions) == 5000
    refused = parse(jac, [*many, {**first, "RxNumber": "HC-26-999999", "LineNo": "1"}])
    assert refused.file_rejected and refused.prescriptions == []
    assert [(i.code, i.location.line) for i in refused.file_issues] == [("TOO_MANY_PRESCRIPTIONS", 5002)]
