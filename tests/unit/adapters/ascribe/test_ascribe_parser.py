"""The Ascribe XML adapter against its spec (shared/specs/ascribe-homecare-export.md v2.0): document and field rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from adapters.ascribe import AscribeAdapter, render_export
from adapters.base import ParsedPrescription, ParseResult
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

Editor = Callable[..., bytes]
DATA = Path(__file__).parents[3] / "data" / "ascribe"
NS = {"a": "urn:ascribe:homecare:export:2"}
FULL = (DATA / "valid_full_features" / "input.xml").read_bytes()
CANCEL_AND_AMEND = (DATA / "valid_cancel_and_amend" / "input.xml").read_bytes()

EXPECTED_EXAMPLE = HomecarePrescription(
    action=Action.NEW,
    trust_ods="RTH",
    rx_number="OXF-HC-88121",
    rx_version=1,
    signed_at=datetime(2026, 11, 21, 14, 2, 11, tzinfo=UTC),
    patient=Patient(
        nhs_number="9434765870", hospital_number="M0091234", title="Mr", family="O'Neill", given=("Tomás",),
        birth_date=date(1979, 6, 30), sex=Sex.MALE,
        address=Address(lines=("4 Headley Way", "Oxford"), postcode="OX3 9DU"), mobile="07700 900456",
    ),
    prescriber=Prescriber(name="Dr P Patel", code="7012345", code_type=PrescriberCodeType.GMC,
                          specialty="Gastroenterology"),
    indication="Crohn's disease",
    service_type=ServiceType.DELIVERY_NURSING,
    items=(
        Item(line_no=1, dmd_code="15517911000001104",
             description="Methotrexate 10mg/0.2ml solution for injection pre-filled syringes", dose=Decimal("10"),
             dose_unit="mg", frequency="EVERY 8 WEEKS", route="Subcutaneous", qty_per_delivery=Decimal("1"),
             qty_unit="pre-filled syringe", days_per_delivery=56, number_of_deliveries=6,
             first_delivery_date=date(2026, 12, 3)),
    ),
    source_format="ascribe",
)


def only(result: ParseResult) -> ParsedPrescription:
    assert not result.file_rejected, result.file_issues
    assert len(result.prescriptions) == 1, result.prescriptions
    return result.prescriptions[0]


def located(issues: list[Issue]) -> set[tuple[str, int | None, str | None]]:
    return {(i.code, i.location.line, i.location.path) for i in issues}


def line_of(payload: bytes, xpath: str) -> int:
    found = etree.fromstring(payload).xpath(xpath, namespaces=NS)
    assert found, xpath
    line: int = found[0].sourceline
    return line


# --- the spec's example and the document ------------------------------------------------------------------------


def test_spec_example_parses_into_the_canonical_model(ascribe: AscribeAdapter, spec_example: bytes) -> None:
    result = ascribe.parse(spec_example)

    parsed = only(result)
    assert (result.format, result.file_issues) == ("ascribe", [])
    assert (parsed.rx_number, parsed.rx_version, parsed.lines, parsed.issues) == ("OXF-HC-88121", "1", [3], [])
    assert parsed.accepted
    assert parsed.prescription == EXPECTED_EXAMPLE


def test_adapter_identity() -> None:
    adapter = AscribeAdapter()

    assert (adapter.name, adapter.media_types) == ("ascribe", ("application/xml", "text/xml"))
    assert adapter.parse(b"").format == "ascribe"


def test_prefixed_namespace_is_equivalent(ascribe: AscribeAdapter) -> None:
    prefixed = ascribe.parse(FULL)
    default = ascribe.parse(FULL.replace(b"hc:", b"").replace(b"xmlns:hc=", b"xmlns="))

    assert only(prefixed).prescription == only(default).prescription is not None


def test_the_full_feature_document_maps_every_part(ascribe: AscribeAdapter) -> None:
    parsed = only(ascribe.parse(FULL))

    p = parsed.prescription
    assert p is not None and p.patient is not None and p.prescriber is not None
    assert p.patient.given == ("Zoë", "Ann") and p.patient.family == "Ó Briain"
    assert p.patient.address == Address(lines=("Flat 2", "11 Parkfield Road", "Wellington", "Somerset", "Taunton"),
                                        postcode="TA1 4DA")
    assert (p.patient.phone, p.patient.mobile, p.patient.email) == ("01823 000000", "07700 900123", "zoe@example.org")
    assert p.delivery_address == Address(lines=("Musgrove Park Hospital",), postcode="TA1 5DA")
    assert p.delivery_instructions == 'Ring twice & leave with "reception"'
    assert (p.prescriber.family, p.prescriber.given, p.prescriber.code_type) == ("KHAN", "Amira", "NMC")
    assert (p.indication_snomed, p.provider_ods, p.service_type) == ("69896004", "VNFKT", ServiceType.DELIVERY_TRAINING)
    assert [i.line_no for i in p.items] == [1, 2]  # in line order, whatever the document order
    first, ancillary = p.items
    assert first.frequency == "Once weekly on Mondays"
    assert first.instructions == "Store in a refrigerator.\nDo not freeze."
    assert ancillary.is_ancillary and ancillary.dose is None and ancillary.frequency is None
    assert {i.review_date for i in p.items} == {date(2027, 5, 1)}
    assert p.signed_at == datetime(2026, 11, 21, 15, 45, 0, 250000, tzinfo=UTC)


def test_a_second_telecom_of_a_kind_is_a_warning(ascribe: AscribeAdapter) -> None:
    parsed = only(ascribe.parse(FULL))

    assert parsed.accepted
    assert [(i.severity, i.code, i.location.path, i.value) for i in parsed.issues] == [
        ("warning", "EXTRA_TELECOM", "Prescription[1]/Patient/Telecom[4]", "07700 900999")]


def test_amend_and_cancel(ascribe: AscribeAdapter) -> None:
    amend, cancel = ascribe.parse(CANCEL_AND_AMEND).prescriptions

    assert amend.accepted and cancel.accepted
    assert amend.prescription is not None and cancel.prescription is not None
    assert (amend.prescription.action, amend.prescription.rx_version) == (Action.AMEND, 2)
    assert (cancel.prescription.action, cancel.prescription.cancel_reason) == (Action.CANCEL,
                                                                               "Treatment stopped by the clinic")
    assert cancel.prescription.items == ()


@pytest.mark.parametrize("encoding", ["UTF-8", "ISO-8859-1", "utf-8", "iso-8859-1"])
def test_declared_encodings(ascribe: AscribeAdapter, spec_example: bytes, encoding: str) -> None:
    text = spec_example.decode("utf-8").replace('encoding="UTF-8"', f'encoding="{encoding}"')
    parsed = only(ascribe.parse(text.encode(encoding)))

    assert parsed.prescription is not None and parsed.prescription.patient is not None
    assert parsed.prescription.patient.given == ("Tomás",)


def test_utf8_is_assumed_without_a_declaration_and_a_bom_is_allowed(ascribe: AscribeAdapter,
                                                                    spec_example: bytes) -> None:
    body = spec_example.split(b"?>", 1)[1]

    assert only(ascribe.parse(body)).prescription == EXPECTED_EXAMPLE
    assert only(ascribe.parse(b"\xef\xbb\xbf" + spec_example)).prescription == EXPECTED_EXAMPLE


def test_one_bad_prescription_does_not_block_a_good_one(ascribe: AscribeAdapter) -> None:
    result = ascribe.parse((DATA / "invalid_several_errors" / "input.xml").read_bytes())

    good, bad, repeat = result.prescriptions
    assert good.accepted and not bad.accepted and not repeat.accepted
    assert len(bad.errors) > 15  # every error of the prescription, not the first one only
    assert all(i.location.line and i.location.path and i.expected for i in bad.issues)
    assert all(i.message.startswith("prescription OXF-HC-90002, line ") for i in bad.issues)


def test_a_repeated_id_and_version_is_refused_the_second_time(ascribe: AscribeAdapter, spec_example: bytes) -> None:
    root = etree.fromstring(spec_example)
    root.append(etree.fromstring(etree.tostring(root[0])))
    result = ascribe.parse(etree.tostring(root))

    first, second = result.prescriptions
    assert first.accepted and not second.accepted
    assert located(second.issues) == {("DUPLICATE_PRESCRIPTION", second.lines[0], "Prescription[2]")}


# --- field rules --------------------------------------------------------------------------------------------------

# (edit, code, path of the issue, xpath of the element whose line the issue names)
FIELD_RULES = [
    (("//a:NHSNumber", None, "943476587"), "INVALID_NHS_NUMBER", "Patient/NHSNumber", "//a:NHSNumber"),
    (("//a:NHSNumber", None, "9434765871"), "INVALID_NHS_NUMBER", "Patient/NHSNumber", "//a:NHSNumber"),
    (("//a:NHSNumber", None, "943 476 5870"), "INVALID_NHS_NUMBER", "Patient/NHSNumber", "//a:NHSNumber"),
    (("//a:BirthDate", None, "2026-11-23"), "FUTURE_DATE", "Patient/BirthDate", "//a:BirthDate"),
    (("//a:BirthDate", None, "30/06/1979"), "INVALID_DATE", "Patient/BirthDate", "//a:BirthDate"),
    (("//a:BirthDate", None, "1979-02-29"), "INVALID_DATE", "Patient/BirthDate", "//a:BirthDate"),
    (("//a:Gender", None, "M"), "INVALID_CODE", "Patient/Gender", "//a:Gender"),
    (("//a:Family", None, " "), "MISSING_VALUE", "Patient/Name/Family", "//a:Family"),
    (("//a:Family", None, None), "MISSING_VALUE", "Patient/Name/Family", "//a:Name"),
    (("//a:PostalCode", None, "OX3"), "INVALID_POSTCODE", "Patient/Address[1]/PostalCode", "//a:PostalCode"),
    (("//a:Address", "use", "work"), "INVALID_CODE", "Patient/Address[1]/@use", "//a:Address"),
    (("//a:Address", "use", "delivery"), "INVALID_CODE", "Patient/Address[1]/@use", "//a:Address"),
    (("//a:Telecom", "system", "fax"), "INVALID_CODE", "Patient/Telecom[1]/@system", "//a:Telecom"),
    (("//a:Identifier", None, "701234"), "INVALID_PRESCRIBER_CODE", "Prescriber/Identifier", "//a:Identifier"),
    (("//a:Identifier", "type", "GMC2"), "INVALID_CODE", "Prescriber/Identifier/@type", "//a:Identifier"),
    (("//a:Indication", "snomed", "69896005"), "INVALID_SNOMED_CODE", "Clinical/Indication/@snomed",
     "//a:Indication"),
    (("//a:Service", "type", "delivery_nursing"), "INVALID_CODE", "Service/@type", "//a:Service"),
    (("//a:Prescription", "id", "oxf-1"), "INVALID_FORMAT", "@id", "//a:Prescription"),
    (("//a:Prescription", "id", "X" * 21), "INVALID_FORMAT", "@id", "//a:Prescription"),
    (("//a:Prescription", "version", "0"), "OUT_OF_RANGE", "@version", "//a:Prescription"),
    (("//a:Prescription", "version", "one"), "INVALID_INTEGER", "@version", "//a:Prescription"),
    (("//a:Prescription", "action", "renew"), "INVALID_CODE", "@action", "//a:Prescription"),
    (("//a:Prescription", "authored", "2026-11-21T14:02:11"), "INVALID_DATETIME", "@authored", "//a:Prescription"),
    (("//a:Prescription", "authored", "2026-02-30T10:00:00Z"), "INVALID_DATETIME", "@authored", "//a:Prescription"),
    (("//a:Prescription", "authored", None), "MISSING_VALUE", "@authored", "//a:Prescription"),
    (("//a:Item", "line", "0"), "OUT_OF_RANGE", "Items/Item[1]/@line", "//a:Item"),
    (("//a:Item", "ancillary", "yes"), "INVALID_CODE", "Items/Item[1]/@ancillary", "//a:Item"),
    (("//a:Medicine", "dmd", "15517911000001105"), "INVALID_DMD_CODE", "Items/Item[1]/Medicine/@dmd",
     "//a:Medicine"),
    (("//a:Medicine", "dmd", "12345"), "INVALID_DMD_CODE", "Items/Item[1]/Medicine/@dmd", "//a:Medicine"),
    (("//a:Medicine", None, ""), "MISSING_VALUE", "Items/Item[1]/Medicine", "//a:Medicine"),
    (("//a:Dose", "value", "1,5"), "INVALID_DECIMAL", "Items/Item[1]/Dose/@value", "//a:Dose"),
    (("//a:Dose", "value", "1e1"), "INVALID_DECIMAL", "Items/Item[1]/Dose/@value", "//a:Dose"),
    (("//a:Dose", "value", "-1"), "OUT_OF_RANGE", "Items/Item[1]/Dose/@value", "//a:Dose"),
    (("//a:Dose", "unit", None), "MISSING_VALUE", "Items/Item[1]/Dose/@unit", "//a:Dose"),
    (("//a:Frequency", "code", "EVERY 2 MONTHS"), "INVALID_CODE", "Items/Item[1]/Frequency/@code", "//a:Frequency"),
    (("//a:Frequency", "code", "od"), "INVALID_CODE", "Items/Item[1]/Frequency/@code", "//a:Frequency"),
    (("//a:Frequency", "code", None), "MISSING_VALUE", "Items/Item[1]/Frequency", "//a:Frequency"),
    (("//a:Supply", "quantity", "0"), "OUT_OF_RANGE", "Items/Item[1]/Supply/@quantity", "//a:Supply"),
    (("//a:Supply", "quantity", "abc"), "INVALID_DECIMAL", "Items/Item[1]/Supply/@quantity", "//a:Supply"),
    (("//a:Supply", "days", "366"), "OUT_OF_RANGE", "Items/Item[1]/Supply/@days", "//a:Supply"),
    (("//a:Supply", "unit", ""), "MISSING_VALUE", "Items/Item[1]/Supply/@unit", "//a:Supply"),
    (("//a:Deliveries", "count", "53"), "OUT_OF_RANGE", "Items/Item[1]/Deliveries/@count", "//a:Deliveries"),
    (("//a:Deliveries", "first", "2026-13-01"), "INVALID_DATE", "Items/Item[1]/Deliveries/@first", "//a:Deliveries"),
    (("//a:Supply", None, None), "MISSING_VALUE", "Items/Item[1]/Supply", "//a:Item"),
    (("//a:Dose", None, None), "MISSING_VALUE", "Items/Item[1]/Dose", "//a:Item"),
    (("//a:Items", None, None), "MISSING_VALUE", "Items", "//a:Prescription"),
    (("//a:Item", None, None), "MISSING_VALUE", "Items", "//a:Items"),
]


@pytest.mark.parametrize(("change", "code", "path", "line_xpath"), FIELD_RULES,
                         ids=[f"{rule[2]}={rule[0][2]!r}" for rule in FIELD_RULES])
def test_field_rules(ascribe: AscribeAdapter, edit: Editor, change: tuple[str, str | None, str | None], code: str,
                     path: str, line_xpath: str) -> None:
    payload = edit(change)

    parsed = only(ascribe.parse(payload))

    assert not parsed.accepted and parsed.prescription is None
    assert located(parsed.issues) == {(code, line_of(payload, line_xpath), f"Prescription[1]/{path}")}
    issue = parsed.issues[0]
    assert issue.expected
    rx_id = change[2] if change[1] == "id" else "OXF-HC-88121"
    assert issue.message.startswith(f"prescription {rx_id}, line {issue.location.line}, Prescription[1]/")
    if change[2] is not None and change[1] is not None:
        assert issue.value == change[2].strip()


@pytest.mark.parametrize(("change", "code", "path"), [
    (("//hc:Provider", "ods", "8hv48"), "INVALID_ODS_CODE", "Provider/@ods"),
    (("//hc:Address[2]", "use", "home"), "INVALID_CODE", "Patient/Address[2]/@use"),
    (("//hc:Address[2]/hc:PostalCode", None, "TA1"), "INVALID_POSTCODE", "Patient/Address[2]/PostalCode"),
    (("//hc:Given[2]", None, ""), "MISSING_VALUE", "Patient/Name/Given[2]"),
    (("//hc:Line[4]", None, None), None, None),  # three lines and a city are fine
])
def test_field_rules_of_optional_parts(ascribe: AscribeAdapter, edit: Editor,
                                       change: tuple[str, str | None, str | None], code: str | None,
                                       path: str | None) -> None:
    payload = edit((change[0].replace("hc:", "a:"), change[1], change[2]), payload=FULL)

    parsed = only(ascribe.parse(payload))

    errors = [(i.code, i.location.path) for i in parsed.errors]
    assert errors == ([] if code is None else [(code, f"Prescription[1]/{path}")])


def test_root_attributes_reject_the_whole_document(ascribe: AscribeAdapter, edit: Editor) -> None:
    result = ascribe.parse(edit(("/a:HomecareExport", "trustOds", "rth"), ("/a:HomecareExport", "system", None)))

    assert result.file_rejected and result.prescriptions == []
    assert located(result.file_issues) == {("MISSING_VALUE", 2, "/HomecareExport/@system"),
                                           ("INVALID_ODS_CODE", 2, "/HomecareExport/@trustOds")}


# --- rules across fields -------------------------------------------------------------------------------------------


def test_an_amend_cannot_be_version_one(ascribe: AscribeAdapter, edit: Editor) -> None:
    parsed = only(ascribe.parse(edit(("//a:Prescription", "action", "amend"))))

    assert located(parsed.issues) == {("INVALID_VERSION", 3, "Prescription[1]/@version")}
    assert only(ascribe.parse(edit(("//a:Prescription", "action", "amend"),
                                   ("//a:Prescription", "version", "2")))).accepted


def test_cancel_needs_a_cancellation_with_a_reason(ascribe: AscribeAdapter, edit: Editor) -> None:
    without = only(ascribe.parse(edit(("//a:Prescription", "action", "cancel"))))
    _, blank = ascribe.parse(edit(("//a:Reason", None, "  "), payload=CANCEL_AND_AMEND)).prescriptions

    assert located(without.issues) == {("MISSING_VALUE", 3, "Prescription[1]/Cancellation")}
    assert "mandatory when action is cancel" in without.issues[0].message
    assert [(i.code, i.location.path) for i in blank.issues] == [
        ("MISSING_VALUE", "Prescription[2]/Cancellation/Reason")]


def test_a_cancellation_is_only_for_cancel(ascribe: AscribeAdapter) -> None:
    payload = CANCEL_AND_AMEND.replace(b'action="cancel"', b'action="new"')
    _, new = ascribe.parse(payload).prescriptions

    assert ("UNEXPECTED_ELEMENT", "Prescription[2]/Cancellation") in {(i.code, i.location.path) for i in new.issues}
    assert ("MISSING_VALUE", "Prescription[2]/Items") in {(i.code, i.location.path) for i in new.issues}


def test_a_cancel_may_keep_its_items(ascribe: AscribeAdapter, edit: Editor) -> None:
    root = etree.fromstring(edit(("//a:Prescription", "action", "cancel")))
    rx = root[0]
    cancellation = etree.Element("{urn:ascribe:homecare:export:2}Cancellation")
    etree.SubElement(cancellation, "{urn:ascribe:homecare:export:2}Reason").text = "Stopped"
    rx.insert(list(rx).index(rx.find("a:Items", NS)), cancellation)

    parsed = only(ascribe.parse(etree.tostring(root)))

    assert parsed.accepted and parsed.prescription is not None and len(parsed.prescription.items) == 1


def test_ancillary_items_need_no_dose(ascribe: AscribeAdapter, edit: Editor) -> None:
    parsed = only(ascribe.parse(edit(("//a:Item", "ancillary", "true"), ("//a:Dose", None, None),
                                     ("//a:Frequency", None, None))))

    assert parsed.accepted and parsed.prescription is not None
    item = parsed.prescription.items[0]
    assert item.is_ancillary and (item.dose, item.dose_unit, item.frequency) == (None, None, None)


def test_frequency_as_free_text_or_absent(ascribe: AscribeAdapter, edit: Editor) -> None:
    text = only(ascribe.parse(edit(("//a:Frequency", "code", None), ("//a:Frequency", None, "After food"))))
    absent = only(ascribe.parse(edit(("//a:Frequency", None, None))))
    both = only(ascribe.parse(edit(("//a:Frequency", None, "every other Monday"))))

    assert text.prescription is not None and text.prescription.items[0].frequency == "After food"
    assert absent.prescription is not None and absent.prescription.items[0].frequency is None
    assert both.prescription is not None and both.prescription.items[0].frequency == "EVERY 8 WEEKS"


def test_item_lines_must_be_unique(ascribe: AscribeAdapter) -> None:
    payload = FULL.replace(b'line="2"', b'line="1"')

    parsed = only(ascribe.parse(payload))

    assert located(parsed.errors) == {("DUPLICATE_LINE_NO", line_of(payload, "//a:Item[2]"),
                                       "Prescription[1]/Items/Item[2]/@line")}


def test_decimals_are_kept_exactly(ascribe: AscribeAdapter, edit: Editor) -> None:
    parsed = only(ascribe.parse(edit(("//a:Dose", "value", "0.4"), ("//a:Supply", "quantity", "1.50"))))
    odd = only(ascribe.parse(edit(("//a:Dose", "value", ".5"), ("//a:Supply", "quantity", "+2."))))

    assert parsed.prescription is not None and odd.prescription is not None
    item = parsed.prescription.items[0]
    assert (str(item.dose), str(item.qty_per_delivery)) == ("0.4", "1.50")
    assert isinstance(item.dose, Decimal) and isinstance(item.qty_per_delivery, Decimal)
    assert (odd.prescription.items[0].dose, odd.prescription.items[0].qty_per_delivery) == (Decimal("0.5"), 2)


def test_dates_of_birth_are_checked_against_the_injected_clock_in_uk_time(edit: Editor) -> None:
    # 23:30 UTC on 30 June is already 1 July in the UK (BST).
    adapter = AscribeAdapter(clock=lambda: datetime(2026, 6, 30, 23, 30, tzinfo=UTC))

    today = only(adapter.parse(edit(("//a:BirthDate", None, "2026-07-01"))))
    tomorrow = only(adapter.parse(edit(("//a:BirthDate", None, "2026-07-02"))))

    assert today.accepted
    assert [(i.code, i.value, i.expected) for i in tomorrow.issues] == [
        ("FUTURE_DATE", "2026-07-02", "a date not after today (2026-07-01)")]


@pytest.mark.parametrize(("authored", "expected"), [
    ("2026-11-21T14:02:11+01:00", datetime(2026, 11, 21, 14, 2, 11, tzinfo=timezone(timedelta(hours=1)))),
    ("2026-11-21T14:02:11Z", datetime(2026, 11, 21, 14, 2, 11, tzinfo=UTC)),
    ("2026-11-21T14:02:11.123456789-05:30", datetime(2026, 11, 21, 14, 2, 11, 123456,
                                                     tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
    ("2026-11-21T24:00:00Z", datetime(2026, 11, 22, tzinfo=UTC)),
])
def test_authored_keeps_its_offset(ascribe: AscribeAdapter, edit: Editor, authored: str, expected: datetime) -> None:
    parsed = only(ascribe.parse(edit(("//a:Prescription", "authored", authored))))

    assert parsed.prescription is not None
    assert parsed.prescription.signed_at == expected
    assert parsed.prescription.signed_at.utcoffset() == expected.utcoffset()


def test_identifiers_are_normalised(ascribe: AscribeAdapter, edit: Editor) -> None:
    parsed = only(ascribe.parse(edit(("//a:PostalCode", None, "  ox39du "), ("//a:Family", None, "\n  O'Neill\n"))))

    assert parsed.prescription is not None and parsed.prescription.patient is not None
    assert parsed.prescription.patient.address.postcode == "OX3 9DU"
    assert parsed.prescription.patient.family == "O'Neill"


def test_prescriber_name_splits_when_written_surname_first(ascribe: AscribeAdapter, edit: Editor) -> None:
    parsed = only(ascribe.parse(edit(("//a:Prescriber/a:Name", None, "PATEL, Priya"))))

    assert parsed.prescription is not None and parsed.prescription.prescriber is not None
    assert (parsed.prescription.prescriber.family, parsed.prescription.prescriber.given) == ("PATEL", "Priya")
    assert EXPECTED_EXAMPLE.prescriber is not None and EXPECTED_EXAMPLE.prescriber.family is None


def test_elements_of_another_namespace_are_schema_errors(ascribe: AscribeAdapter, spec_example: bytes) -> None:
    payload = spec_example.replace(b"<Route>Subcutaneous</Route>", b'<Route xmlns="urn:other">Subcutaneous</Route>')

    parsed = only(ascribe.parse(payload))

    assert located(parsed.issues) == {("UNEXPECTED_ELEMENT", 21, "Prescription[1]/Items/Item[1]/Route")}


# --- limits -------------------------------------------------------------------------------------------------------


def test_five_thousand_prescriptions_are_accepted_and_one_more_is_refused(ascribe: AscribeAdapter) -> None:
    assert EXPECTED_EXAMPLE.patient is not None
    many = [EXPECTED_EXAMPLE.model_copy(update={"rx_number": f"OXF-{i}"}) for i in range(5000)]

    result = ascribe.parse(render_export(many, pretty=False))

    assert len(result.prescriptions) == 5000 and all(p.accepted for p in result.prescriptions)
    shell = b'<Prescription id="X" version="1" action="new" authored="2026-11-21T14:02:11Z"/>'
    too_many = (b'<HomecareExport xmlns="urn:ascribe:homecare:export:2" generated="2026-11-21T14:10:00Z" '
                b'system="x" trustOds="RTH">' + shell * 5001 + b"</HomecareExport>")
    refused = ascribe.parse(too_many)
    assert [(i.code, i.value) for i in refused.file_issues] == [("TOO_MANY_PRESCRIPTIONS", "5001")]


def test_text_directly_inside_a_prescription_is_reported_once(ascribe: AscribeAdapter, spec_example: bytes) -> None:
    parsed = only(ascribe.parse(spec_example.replace(b"<Patient>", b"stray text<Patient>")))

    assert [(i.code, i.location.line, i.location.path) for i in parsed.issues] == [
        ("UNEXPECTED_TEXT", 3, "Prescription[1]")]
