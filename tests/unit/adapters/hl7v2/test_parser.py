"""The HL7 v2 adapter against its profile (shared/specs/hl7v2-homecare-order.md v1.0): one message, field by field."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from adapters.base import ParsedPrescription, ParseResult
from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2.writer import FieldValue, MessageSpec, render_message
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

EXPECTED_EXAMPLE = HomecarePrescription(
    action=Action.NEW,
    trust_ods="RHM",
    rx_number="HC-26-004711",
    rx_version=1,
    signed_at=datetime(2026, 11, 21, 14, 5, tzinfo=UK),
    patient=Patient(
        nhs_number="9434765919", hospital_number="K1234567", title="Mrs", family="SMITH", given=("Jane", "Anne"),
        birth_date=date(1968, 2, 14), sex=Sex.FEMALE,
        address=Address(lines=("12 Tremona Road", "Southampton"), postcode="SO16 6YD"),
        phone="023 8079 0000", mobile="07700 900123",
    ),
    prescriber=Prescriber(name="JONES, Alan", family="JONES", given="Alan", code="4123456",
                          code_type=PrescriberCodeType.GMC),
    indication="Rheumatoid arthritis",
    indication_snomed="69896004",
    service_type=ServiceType.DELIVERY,
    items=(
        Item(line_no=1, dmd_code="15517911000001104",
             description="Methotrexate 10mg/0.2ml solution for injection pre-filled syringes", dose=Decimal("10"),
             dose_unit="mg", frequency="OW", route="Subcutaneous", qty_per_delivery=Decimal("4"),
             qty_unit="pre-filled syringe", days_per_delivery=28, number_of_deliveries=6,
             first_delivery_date=date(2026, 12, 1), instructions="Store below 25C", is_ancillary=False),
        Item(line_no=2, dmd_code="110171000001104", description="Water for injections 2ml ampoules",
             qty_per_delivery=Decimal("1"), qty_unit="ampoule", days_per_delivery=28, number_of_deliveries=1,
             first_delivery_date=date(2026, 12, 1), is_ancillary=True),
    ),
    source_format="hl7v2",
)


def parse(hl7: Hl7v2Adapter, order: MessageSpec) -> ParseResult:
    return hl7.parse(order.render().encode())


def only(result: ParseResult) -> ParsedPrescription:
    """The one message of a payload that was not rejected as a whole."""
    assert (result.file_rejected, len(result.prescriptions)) == (False, 1), (result.file_issues, result.prescriptions)
    return result.prescriptions[0]


def accepted(result: ParseResult) -> HomecarePrescription:
    parsed = only(result)
    assert parsed.errors == [], parsed.errors
    assert parsed.prescription is not None
    return parsed.prescription


def located(issues: list[Issue]) -> set[tuple[str, int | None, str | None]]:
    return {(i.code, i.location.line, i.location.path) for i in issues}


def set_all(order: MessageSpec, segment: str, field: int, value: FieldValue) -> MessageSpec:
    for fields in order.all(segment):
        fields[field] = value
    return order


# --- the example and the message format -------------------------------------------------------------------------


def test_example_order_parses_into_the_canonical_model(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    result = parse(hl7, order)

    parsed = only(result)
    assert (result.format, result.file_issues) == ("hl7v2", [])
    assert (parsed.rx_number, parsed.rx_version, parsed.lines) == ("HC-26-004711", "1", list(range(1, 12)))
    assert parsed.issues == []
    assert parsed.prescription == EXPECTED_EXAMPLE
    assert parsed.prescription is not None
    assert parsed.prescription.signed_at.utcoffset() == EXPECTED_EXAMPLE.signed_at.utcoffset()


def test_adapter_name_and_media_types(hl7: Hl7v2Adapter) -> None:
    assert hl7.name == "hl7v2"
    assert hl7.media_types == ("x-application/hl7-v2+er7", "application/hl7-v2", "application/x-hl7")


@pytest.mark.parametrize("terminator", ["\r", "\n", "\r\n"])
def test_segment_terminators_cr_lf_and_crlf_are_accepted(
    hl7: Hl7v2Adapter, order: MessageSpec, terminator: str
) -> None:
    text = order.render().replace("\r", terminator)

    assert accepted(hl7.parse(text.encode())) == EXPECTED_EXAMPLE


def test_blank_lines_and_a_byte_order_mark_are_ignored(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    text = "\r\n" + order.render().replace("\r", "\r\n\r\n")

    assert accepted(hl7.parse(b"\xef\xbb\xbf" + text.encode())) == EXPECTED_EXAMPLE


def test_an_mllp_frame_posted_as_it_is_is_read(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    assert accepted(hl7.parse(b"\x0b" + order.render().encode() + b"\x1c\r")) == EXPECTED_EXAMPLE


def test_encoding_characters_come_from_msh_2(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("PID")[5] = [("O'BRIEN|SMITH", "Zoë^Jane", "", "", "Mrs")]
    text = render_message(order.segments, encoding_characters="$*!@", field_separator="#")
    assert text.startswith("MSH#$*!@#EPMA#RHM#")

    prescription = accepted(hl7.parse(text.encode()))

    assert prescription.patient is not None
    assert (prescription.patient.family, prescription.patient.given) == ("O'BRIEN|SMITH", ("Zoë^Jane",))
    assert prescription.model_copy(update={"patient": EXPECTED_EXAMPLE.patient}) == EXPECTED_EXAMPLE


def test_escape_sequences_are_decoded(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    text = order.render().replace("^Store below 25C", r"^Keep \T\ store: 2\S\8C \F\ cold\R\dry \E\ \X41\\.br\.")
    text = text.replace("SMITH^Jane", r"O\E\BRIEN \T\ SMITH^Jane")

    prescription = accepted(hl7.parse(text.encode()))

    assert prescription.items[0].instructions == "Keep & store: 2^8C | cold~dry \\ A\r."
    assert prescription.patient is not None and prescription.patient.family == "O\\BRIEN & SMITH"


def test_the_writer_escapes_what_the_parser_decodes(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("RXE")[21] = [("", "Take | with ^ food & water ~ \\ then\nrest")]

    prescription = accepted(parse(hl7, order))

    assert prescription.items[0].instructions == "Take | with ^ food & water ~ \\ then\rrest"


@pytest.mark.parametrize("bad", [r"\Z99\ ", r"\C2842\ ", r"\Xzz\ ", "\\F", r"\.sp+\ ", r"\\ "])
def test_escape_sequences_that_cannot_be_decoded_are_errors(
    hl7: Hl7v2Adapter, order: MessageSpec, bad: str
) -> None:
    text = order.render().replace("^Store below 25C", f"^Store {bad}cold")

    parsed = only(hl7.parse(text.encode()))

    [issue] = parsed.issues
    assert (issue.code, issue.location.line, issue.location.path) == ("INVALID_ESCAPE", 6, "RXE-21[1].2")
    assert issue.value == f"Store {bad}cold" and issue.expected and "\\F\\" in issue.expected


# --- one failing case per field rule ----------------------------------------------------------------------------

# (segment, occurrence (0 = every one), field, value, code, segment number of the error, path)
FIELD_RULES: list[tuple[str, int, int, FieldValue, str, int, str]] = [
    ("MSH", 1, 4, "RH", "INVALID_ODS_CODE", 1, "MSH-4.1"),
    ("MSH", 1, 4, "RHM0", "INVALID_ODS_CODE", 1, "MSH-4.1"),
    ("MSH", 1, 4, "", "MISSING_VALUE", 1, "MSH-4.1"),
    ("MSH", 1, 7, "2026-11-21", "INVALID_DATETIME", 1, "MSH-7"),
    ("PID", 1, 3, [("9434765918", "", "", "NHS", "NH")], "INVALID_NHS_NUMBER", 3, "PID-3[1].1"),
    ("PID", 1, 3, [("K1", "", "", "RHM", "MR"), ("943476591", "", "", "NHS", "NH")], "INVALID_NHS_NUMBER", 3,
     "PID-3[2].1"),
    ("PID", 1, 3, [("K1234567", "", "", "RHM", "MR")], "MISSING_VALUE", 3, "PID-3"),
    ("PID", 1, 3, [("K" * 21, "", "", "RHM", "MR"), ("9434765919", "", "", "NHS", "NH")], "TOO_LONG", 3,
     "PID-3[1].1"),
    ("PID", 1, 5, [("", "Jane")], "MISSING_VALUE", 3, "PID-5[1].1"),
    ("PID", 1, 5, [("SMITH",)], "MISSING_VALUE", 3, "PID-5[1].2"),
    ("PID", 1, 7, "1968-02-14", "INVALID_DATE", 3, "PID-7"),
    ("PID", 1, 7, "19680230", "INVALID_DATE", 3, "PID-7"),
    ("PID", 1, 7, "1968", "INVALID_DATE", 3, "PID-7"),
    ("PID", 1, 7, "20261123", "FUTURE_DATE", 3, "PID-7"),
    ("PID", 1, 7, "", "MISSING_VALUE", 3, "PID-7"),
    ("PID", 1, 8, "I", "INVALID_CODE", 3, "PID-8"),
    ("PID", 1, 8, "", "MISSING_VALUE", 3, "PID-8"),
    ("PID", 1, 11, [("12 Tremona Road", "", "Southampton", "", "SO16")], "INVALID_POSTCODE", 3, "PID-11[1].5"),
    ("PID", 1, 11, [("12 Tremona Road", "", "Southampton")], "MISSING_VALUE", 3, "PID-11[1].5"),
    ("PID", 1, 11, [("", "", "Southampton", "", "SO16 6YD")], "MISSING_VALUE", 3, "PID-11[1].1"),
    ("PID", 1, 11, [("12 Tremona Road", "", "Southampton", "", "SO16 6YD", "FRA")], "INVALID_CODE", 3,
     "PID-11[1].6"),
    ("PID", 1, 11, [("Unit 4", "", "Eastleigh", "", "SO50 9NL", "GBR", "C")], "MISSING_VALUE", 3, "PID-11"),
    ("PID", 1, 13, [("", "NET", "Internet", "jane@example.com")], "MISSING_VALUE", 3, "PID-13"),
    ("PID", 1, 13, [("023 8079 0000", "PRN", "PH"), ("", "NET", "Internet", "jane.smith")], "INVALID_FORMAT", 3,
     "PID-13[2].4"),
    ("ORC", 0, 1, "XX", "INVALID_CODE", 5, "ORC-1"),
    ("ORC", 0, 1, "", "MISSING_VALUE", 5, "ORC-1"),
    ("ORC", 1, 2, ("HC 26-1", "RHM"), "INVALID_FORMAT", 5, "ORC-2.1"),
    ("ORC", 1, 2, ("hc-26-004711-1", "RHM"), "INVALID_FORMAT", 5, "ORC-2.1"),
    ("ORC", 1, 2, ("HC-26-004711-0", "RHM"), "INVALID_FORMAT", 5, "ORC-2.1"),
    ("ORC", 1, 2, ("H" * 21 + "-1", "RHM"), "INVALID_FORMAT", 5, "ORC-2.1"),
    ("ORC", 1, 2, "", "MISSING_VALUE", 5, "ORC-2.1"),
    ("ORC", 1, 2, ("HC-26-004711-1", "RBA"), "INCONSISTENT_VALUE", 5, "ORC-2.2"),
    ("ORC", 1, 2, ("HC-26-004711-2", "RHM"), "DUPLICATE_LINE_NO", 8, "ORC-2.1"),
    ("ORC", 2, 2, ("HC-26-004712-2", "RHM"), "INCONSISTENT_VALUE", 8, "ORC-2.1"),
    ("ORC", 0, 9, "20261121", "INVALID_DATETIME", 5, "ORC-9"),
    ("ORC", 0, 9, "202611211465", "INVALID_DATETIME", 5, "ORC-9"),
    ("ORC", 0, 9, "202603290130", "INVALID_DATETIME", 5, "ORC-9"),  # the hour the clocks skip
    ("ORC", 0, 9, "", "MISSING_VALUE", 5, "ORC-9"),
    ("ORC", 2, 9, "202611211406", "INCONSISTENT_VALUE", 8, "ORC-9"),
    ("ORC", 0, 12, [("412345", "JONES", "Alan", "", "", "", "", "", "GMC")], "INVALID_PRESCRIBER_CODE", 5,
     "ORC-12[1].1"),
    ("ORC", 0, 12, [("4123456", "JONES", "Alan", "", "", "", "", "", "NMC")], "INVALID_PRESCRIBER_CODE", 5,
     "ORC-12[1].1"),
    ("ORC", 0, 12, [("", "JONES", "Alan", "", "", "", "", "", "GMC")], "MISSING_VALUE", 5, "ORC-12[1].1"),
    ("ORC", 0, 12, [("4123456", "", "Alan", "", "", "", "", "", "GMC")], "MISSING_VALUE", 5, "ORC-12[1].2"),
    ("ORC", 0, 12, [("4123456", "JONES", "Alan", "", "", "", "", "", "GMX")], "INVALID_CODE", 5, "ORC-12[1].9"),
    ("ORC", 0, 12, [("4123456", "JONES", "Alan")], "MISSING_VALUE", 5, "ORC-12[1].9"),
    ("ORC", 0, 21, [("Somewhere", "", "", "", "", "", "", "", "", "RH")], "INVALID_ODS_CODE", 5, "ORC-21[1].10"),
    ("ORC", 0, 21, [("Taunton", "", "", "", "", "", "", "", "", "RBA")], "INCONSISTENT_VALUE", 5, "ORC-21[1].10"),
    ("RXE", 1, 2, ("15517911000001105", "Methotrexate", "DMD"), "INVALID_DMD_CODE", 6, "RXE-2.1"),
    ("RXE", 1, 2, ("12345", "Methotrexate", "DMD"), "INVALID_DMD_CODE", 6, "RXE-2.1"),
    ("RXE", 1, 2, ("", "Methotrexate", "DMD"), "MISSING_VALUE", 6, "RXE-2.1"),
    ("RXE", 1, 2, ("15517911000001104", "", "DMD"), "MISSING_VALUE", 6, "RXE-2.2"),
    ("RXE", 1, 2, ("15517911000001104", "Methotrexate", "NDC"), "INVALID_CODE", 6, "RXE-2.3"),
    ("RXE", 1, 3, "1e3", "INVALID_DECIMAL", 6, "RXE-3"),
    ("RXE", 1, 3, "0,4", "INVALID_DECIMAL", 6, "RXE-3"),
    ("RXE", 1, 3, "-1", "INVALID_DECIMAL", 6, "RXE-3"),
    ("RXE", 1, 3, "NaN", "INVALID_DECIMAL", 6, "RXE-3"),
    ("RXE", 1, 3, "", "MISSING_VALUE", 6, "RXE-3"),
    ("RXE", 1, 5, "", "MISSING_VALUE", 6, "RXE-5"),
    ("RXE", 1, 7, "", "MISSING_VALUE", 6, "RXE-7"),
    ("RXE", 1, 10, "0", "OUT_OF_RANGE", 6, "RXE-10"),
    ("RXE", 1, 10, "Infinity", "INVALID_DECIMAL", 6, "RXE-10"),
    ("RXE", 1, 10, "", "MISSING_VALUE", 6, "RXE-10"),
    ("RXE", 1, 11, "", "MISSING_VALUE", 6, "RXE-11"),
    ("RXE", 1, 12, "52", "OUT_OF_RANGE", 6, "RXE-12"),
    ("RXE", 1, 12, "five", "INVALID_INTEGER", 6, "RXE-12"),
    ("RXE", 1, 12, "", "MISSING_VALUE", 6, "RXE-12"),
    ("RXE", 2, 2, ("110171000001105", "Water for injections 2ml ampoules", "DMD"), "INVALID_DMD_CODE", 9,
     "RXE-2.1"),
    ("ZHC", 1, 1, "8HV4", "INVALID_ODS_CODE", 11, "ZHC-1"),
    ("ZHC", 1, 2, "HOME", "INVALID_CODE", 11, "ZHC-2"),
    ("ZHC", 1, 2, "delivery", "INVALID_CODE", 11, "ZHC-2"),
    ("ZHC", 1, 2, "", "MISSING_VALUE", 11, "ZHC-2"),
    ("ZHC", 1, 3, "0", "OUT_OF_RANGE", 11, "ZHC-3"),
    ("ZHC", 1, 3, "366", "OUT_OF_RANGE", 11, "ZHC-3"),
    ("ZHC", 1, 3, "", "MISSING_VALUE", 11, "ZHC-3"),
    ("ZHC", 1, 4, "01/12/2026", "INVALID_DATE", 11, "ZHC-4"),
    ("ZHC", 1, 5, ("69896005", "Rheumatoid arthritis", "SCT"), "INVALID_SNOMED_CODE", 11, "ZHC-5.1"),
    ("ZHC", 1, 5, ("69896004", "", "SCT"), "MISSING_VALUE", 11, "ZHC-5.2"),
    ("ZHC", 1, 5, ("M06.9", "Rheumatoid arthritis", "SCT"), "INVALID_SNOMED_CODE", 11, "ZHC-5.1"),
    ("ZHC", 1, 5, ("69896004", "Rheumatoid arthritis", "I10"), "INVALID_CODE", 11, "ZHC-5.3"),
    ("ZHC", 1, 6, ["N", "Yes"], "INVALID_CODE", 11, "ZHC-6[2]"),
    ("ZHC", 1, 6, ["N", "Y", "N"], "INCONSISTENT_VALUE", 11, "ZHC-6"),
    ("ZHC", 1, 7, "0", "OUT_OF_RANGE", 11, "ZHC-7"),
    ("ZHC", 1, 7, "v2", "INVALID_INTEGER", 11, "ZHC-7"),
]


@pytest.mark.parametrize(("segment", "occurrence", "field", "value", "code", "line", "path"), FIELD_RULES)
def test_field_rules(
    hl7: Hl7v2Adapter, order: MessageSpec, segment: str, occurrence: int, field: int, value: FieldValue,
    code: str, line: int, path: str
) -> None:
    if occurrence:
        order.segment(segment, occurrence)[field] = value
    else:
        set_all(order, segment, field, value)

    parsed = only(parse(hl7, order))

    assert parsed.prescription is None
    [issue] = parsed.issues
    assert (issue.code, issue.location.line, issue.location.path) == (code, line, path)
    assert issue.severity == "error"
    assert issue.value is not None and issue.expected
    assert issue.message.startswith(f"segment {line}, {path}: ")


@pytest.mark.parametrize(
    ("message_type", "version", "control_id", "code", "path"),
    [
        (("ADT", "A01", "ADT_A01"), "2.5", "MSG1", "UNSUPPORTED_MESSAGE_TYPE", "MSH-9.1"),
        (("RDE", "O25", "RDE_O25"), "2.5", "MSG1", "UNSUPPORTED_EVENT", "MSH-9.2"),
        (("RDE", "O11", "RDE_O11"), "2.3", "MSG1", "UNSUPPORTED_VERSION", "MSH-12.1"),
        (("RDE", "O11", "RDE_O11"), "2.5", "", "MISSING_VALUE", "MSH-10"),
    ],
)
def test_messages_the_profile_cannot_read_are_refused_on_their_header_alone(
    hl7: Hl7v2Adapter, order: MessageSpec, message_type: FieldValue, version: str, control_id: str, code: str,
    path: str
) -> None:
    order.segment("MSH").update({9: message_type, 12: version, 10: control_id})
    order.segment("PID")[3] = "garbage that is not checked"

    [issue] = only(parse(hl7, order)).issues

    assert (issue.code, issue.location.line, issue.location.path) == (code, 1, path)


@pytest.mark.parametrize("version", ["2.4", "2.5", "2.5.1"])
def test_versions_2_4_and_2_5_are_accepted(hl7: Hl7v2Adapter, order: MessageSpec, version: str) -> None:
    order.segment("MSH")[12] = version
    order.segment("MSH")[9] = ("RDE", "O11")

    assert accepted(parse(hl7, order)) == EXPECTED_EXAMPLE


def test_every_error_of_a_message_is_reported_in_segment_order(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("ZHC")[2] = "HOME"
    order.segment("RXE", 2)[10] = "1.0.0"
    order.segment("PID")[7] = "19680231"
    order.segment("PID")[3] = [("1234567890", "", "", "NHS", "NH")]
    order.segment("ORC", 1)[2] = ("HC-26-004711-x", "RHM")

    parsed = only(parse(hl7, order))

    assert [(i.code, i.location.line, i.location.path, i.value) for i in parsed.issues] == [
        ("INVALID_NHS_NUMBER", 3, "PID-3[1].1", "1234567890"),
        ("INVALID_DATE", 3, "PID-7", "19680231"),
        ("INVALID_FORMAT", 5, "ORC-2.1", "HC-26-004711-x"),
        ("INVALID_DECIMAL", 9, "RXE-10", "1.0.0"),
        ("INVALID_CODE", 11, "ZHC-2", "HOME"),
    ]


# --- segments ---------------------------------------------------------------------------------------------------


def drop(order: MessageSpec, segment: str, occurrence: int = 1) -> MessageSpec:
    target = order.segment(segment, occurrence)
    order.segments = [(name, fields) for name, fields in order.segments if fields is not target]
    return order


@pytest.mark.parametrize(
    ("segment", "occurrence", "line"),
    [("PID", 1, 3), ("RXE", 1, 6), ("RXR", 1, 7), ("RXR", 2, 10), ("ORC", 2, 8)],
)
def test_a_missing_mandatory_segment_is_located_where_it_was_expected(
    hl7: Hl7v2Adapter, order: MessageSpec, segment: str, occurrence: int, line: int
) -> None:
    parsed = only(parse(hl7, drop(order, segment, occurrence)))

    assert ("MISSING_SEGMENT", line, segment) in located(parsed.errors)
    assert parsed.prescription is None


def test_a_message_without_zhc_is_missing_it_at_the_end(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    [issue] = only(parse(hl7, drop(order, "ZHC"))).issues

    assert (issue.code, issue.location.line, issue.location.path) == ("MISSING_SEGMENT", 10, "ZHC")
    assert "at the end" in issue.message and issue.expected == "MSH [EVN] PID [PV1] {ORC RXE [TQ1] RXR {NTE}} ZHC"


def test_a_segment_out_of_place_is_an_error(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    pid = order.segment("PID")
    drop(order, "PID").segments.insert(5, ("PID", pid))  # after the first RXE

    parsed = only(parse(hl7, order))

    assert located(parsed.issues) == {("MISSING_SEGMENT", 3, "PID"), ("SEGMENT_SEQUENCE", 6, "PID")}


def test_optional_segments_may_be_left_out(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    assert accepted(parse(hl7, drop(drop(order, "EVN"), "PV1"))) == EXPECTED_EXAMPLE


def test_segments_outside_the_profile_are_ignored_with_a_warning(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segments.insert(3, ("AL1", {1: "1", 3: ("PEN", "Penicillin")}))
    order.segments.insert(12, ("ZXX", {1: "local"}))

    parsed = only(parse(hl7, order))

    assert parsed.accepted and parsed.prescription == EXPECTED_EXAMPLE
    assert [(i.code, i.severity, i.location.line, i.location.path) for i in parsed.issues] == [
        ("IGNORED_SEGMENT", "warning", 4, "AL1"), ("IGNORED_SEGMENT", "warning", 13, "ZXX")]


def test_a_line_that_is_not_a_segment_is_an_error(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    text = order.render().replace("PV1|", "this is not a segment\rPV1|")

    [issue] = only(hl7.parse(text.encode())).issues

    assert (issue.code, issue.location.line) == ("MALFORMED_SEGMENT", 4)


@pytest.mark.parametrize("msh", ["MSH|^^\\&|", "MSH|^~\\", "MSHX^~\\&X"])
def test_unusable_encoding_characters_make_a_malformed_message(
    hl7: Hl7v2Adapter, order: MessageSpec, msh: str
) -> None:
    text = msh + order.render().split("|", 2)[2]

    [issue] = only(hl7.parse(text.encode())).issues

    assert (issue.code, issue.location.line, issue.location.path) == ("MALFORMED_MESSAGE", 1, "MSH-2")


# --- conversions ------------------------------------------------------------------------------------------------


def test_decimals_are_kept_exactly(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("RXE").update({3: "0.4", 5: "ml", 10: "2.50"})

    item = accepted(parse(hl7, order)).items[0]

    assert isinstance(item.dose, Decimal) and str(item.dose) == "0.4"
    assert str(item.qty_per_delivery) == "2.50"


def test_refills_are_deliveries_minus_one(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("RXE")[12] = "51"

    assert accepted(parse(hl7, order)).items[0].number_of_deliveries == 52


def test_dates_of_birth_in_the_future_are_refused_against_the_injected_clock(order: MessageSpec) -> None:
    order.segment("PID")[7] = "20261123"
    payload = order.render().encode()

    assert only(Hl7v2Adapter(clock=lambda: datetime(2026, 11, 23, 0, 30, tzinfo=UK)).parse(payload)).accepted
    [issue] = only(Hl7v2Adapter(clock=lambda: datetime(2026, 11, 22, 23, 59, tzinfo=UK)).parse(payload)).issues
    assert (issue.code, issue.value, issue.expected) == ("FUTURE_DATE", "20261123", "a date not after today (20261122)")


@pytest.mark.parametrize(
    ("value", "local", "offset_hours"),
    [("202611211405", "2026-11-21 14:05", 0), ("202607010900", "2026-07-01 09:00", 1),
     ("20260701090000+0100", "2026-07-01 09:00", 1), ("202607010900-0500", "2026-07-01 09:00", -5),
     ("20261025013000", "2026-10-25 01:30", 1)],
)
def test_signing_time_is_uk_local_unless_an_offset_is_given(
    hl7: Hl7v2Adapter, order: MessageSpec, value: str, local: str, offset_hours: int
) -> None:
    signed = accepted(parse(hl7, set_all(order, "ORC", 9, value))).signed_at

    assert signed.strftime("%Y-%m-%d %H:%M") == local
    offset = signed.utcoffset()
    assert offset is not None and offset.total_seconds() == offset_hours * 3600


def test_date_of_birth_may_carry_a_time(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("PID")[7] = "196802140000"

    patient = accepted(parse(hl7, order)).patient

    assert patient is not None and patient.birth_date == date(1968, 2, 14)


def test_identifiers_are_normalised(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("PID")[11] = [("12 Tremona Road", "Southampton", "", "", "so166yd", "GBR", "H")]
    order.segment("ZHC")[1] = "VNFKT"
    set_all(order, "ORC", 12, [("12A3456E", "NURSE", "Nina", "", "", "", "", "", "NMC")])

    prescription = accepted(parse(hl7, order))

    assert prescription.patient is not None and prescription.prescriber is not None
    assert prescription.patient.address.postcode == "SO16 6YD"
    assert prescription.provider_ods == "VNFKT"
    assert prescription.prescriber == Prescriber(name="NURSE, Nina", family="NURSE", given="Nina", code="12A3456E",
                                                 code_type=PrescriberCodeType.NMC)


@pytest.mark.parametrize(("hl7_sex", "sex"), [("M", Sex.MALE), ("F", Sex.FEMALE), ("U", Sex.UNKNOWN),
                                              ("O", Sex.INDETERMINATE)])
def test_sex(hl7: Hl7v2Adapter, order: MessageSpec, hl7_sex: str, sex: Sex) -> None:
    order.segment("PID")[8] = hl7_sex

    patient = accepted(parse(hl7, order)).patient

    assert patient is not None and patient.sex is sex


@pytest.mark.parametrize("kind", ["C", "BDL"])
def test_a_repetition_typed_c_or_bdl_is_the_delivery_address(
    hl7: Hl7v2Adapter, order: MessageSpec, kind: str
) -> None:
    order.segment("PID")[11] = [("Unit 4", "Stoneham Lane", "Eastleigh", "", "so50 9nl", "GBR", kind),
                                ("12 Tremona Road", "Southampton", "", "", "SO16 6YD", "GBR", "H")]

    prescription = accepted(parse(hl7, order))

    assert prescription.delivery_address == Address(lines=("Unit 4", "Stoneham Lane", "Eastleigh"),
                                                     postcode="SO50 9NL")
    assert prescription.patient == EXPECTED_EXAMPLE.patient


def test_a_bad_delivery_postcode_is_located_in_its_repetition(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    pid = order.segment("PID")
    pid[11] = [*pid[11], ("Unit 4", "", "Eastleigh", "", "SO50", "GBR", "C")]  # type: ignore[misc]

    assert located(only(parse(hl7, order)).issues) == {("INVALID_POSTCODE", 3, "PID-11[2].5")}


def test_phones_and_email(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("PID")[13] = [("", "PRN", "CP", "", "", "", "", "", "", "", "", "07700900123"),
                                ("", "NET", "Internet", "jane.smith@example.com")]

    patient = accepted(parse(hl7, order)).patient

    assert patient is not None
    assert (patient.phone, patient.mobile, patient.email) == (None, "07700900123", "jane.smith@example.com")


def test_frequency_route_and_notes(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("RXE")[7] = [("", "EVERY 14 DAYS")]
    order.segment("RXR")[1] = ("PO",)
    order.segments.insert(7, ("NTE", {3: "Patient trained to inject"}))
    order.segments.insert(8, ("NTE", {3: "Fridge at home"}))

    item = accepted(parse(hl7, order)).items[0]

    assert (item.frequency, item.route) == ("EVERY 14 DAYS", "PO")
    assert item.instructions == "Store below 25C\nPatient trained to inject\nFridge at home"


def test_tq1_end_of_course_is_the_review_date(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segments.insert(6, ("TQ1", {7: "20261201", 8: "20270601"}))

    assert accepted(parse(hl7, order)).items[0].review_date == date(2027, 6, 1)

    order.segment("TQ1")[8] = "20261130"
    assert located(only(parse(hl7, order)).issues) == {("OUT_OF_RANGE", 7, "TQ1-8")}


def test_items_are_in_line_number_order(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("ORC", 1)[2] = ("HC-26-004711-3", "RHM")

    assert [i.line_no for i in accepted(parse(hl7, order)).items] == [2, 3]


def test_ancillary_items_need_no_dose_but_dose_and_unit_go_together(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("RXE", 2)[5] = "bin"
    assert located(only(parse(hl7, order)).issues) == {("MISSING_VALUE", 9, "RXE-3")}

    order.segment("RXE", 2).update({3: "1", 5: ""})
    assert located(only(parse(hl7, order)).issues) == {("MISSING_VALUE", 9, "RXE-5")}

    order.segment("ZHC")[6] = ""  # no flags: every item needs its dose, unit and frequency
    assert located(only(parse(hl7, order)).issues) == {("MISSING_VALUE", 9, "RXE-5"),
                                                       ("MISSING_VALUE", 9, "RXE-7")}


# --- actions and versions ---------------------------------------------------------------------------------------


def test_xo_amends_with_the_version_in_zhc_7(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    set_all(order, "ORC", 1, "XO")
    order.segment("ZHC")[7] = "2"

    parsed = only(parse(hl7, order))

    assert (parsed.rx_version, parsed.prescription) == (
        "2", EXPECTED_EXAMPLE.model_copy(update={"action": Action.AMEND, "rx_version": 2}))


def test_an_amend_needs_a_version_above_one(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    set_all(order, "ORC", 1, "XO")
    assert located(only(parse(hl7, order)).issues) == {("MISSING_VALUE", 11, "ZHC-7")}

    order.segment("ZHC")[7] = "1"
    assert located(only(parse(hl7, order)).issues) == {("INVALID_VERSION", 11, "ZHC-7")}


def test_ca_cancels_with_a_reason(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    set_all(order, "ORC", 1, "CA")
    set_all(order, "ORC", 16, ("STOP", "Treatment stopped by consultant"))
    order.segment("ZHC")[7] = "2"

    prescription = accepted(parse(hl7, order))

    assert (prescription.action, prescription.rx_version) == (Action.CANCEL, 2)
    assert prescription.cancel_reason == "Treatment stopped by consultant"


def test_a_cancel_needs_a_reason(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    set_all(order, "ORC", 1, "CA")
    order.segment("ZHC")[7] = "2"

    assert located(only(parse(hl7, order)).issues) == {("MISSING_VALUE", 5, "ORC-16")}


def test_every_items_orc_must_agree_on_the_order_control(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("ORC", 2)[1] = "CA"

    [issue] = only(parse(hl7, order)).issues

    assert (issue.code, issue.location.line, issue.location.path, issue.value, issue.expected) == (
        "INCONSISTENT_VALUE", 8, "ORC-1", "CA", "NW")
