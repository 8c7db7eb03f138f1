"""Whole payloads: what is not HL7 v2, encodings, and batches (several messages, FHS/BHS envelopes)."""

from __future__ import annotations

import pytest

from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2.writer import MessageSpec, render_batch

BATCH_HEADER = {3: "EPMA", 4: "RHM", 5: "HGW", 6: "HGW", 7: "20261121140600", 11: "BATCH-0042"}
FILE_HEADER = {3: "EPMA", 4: "RHM", 5: "HGW", 6: "HGW", 7: "20261121140600", 11: "FILE-0007"}


def second_order(order: MessageSpec, rx: str = "HC-26-004712", control_id: str = "MSG00002") -> MessageSpec:
    other = MessageSpec([(name, dict(fields)) for name, fields in order.segments])
    other.segment("MSH")[10] = control_id
    for number, orc in enumerate(other.all("ORC"), 1):
        orc[2] = (f"{rx}-{number}", "RHM")
    return other


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"", "NOT_HL7"),
        (b"\r\n  \n", "NOT_HL7"),
        (b'{"resourceType": "Bundle"}', "NOT_HL7"),
        (b"<?xml version='1.0'?><HomecareExport/>", "NOT_HL7"),
        (b"Action,TrustODS,RxNumber\r\nNEW,RHM,HC-1\r\n", "NOT_HL7"),
        (b"PID|||9434765919^^^NHS^NH\r", "NOT_HL7"),
        (b"MSH|^~\\&|EPMA|RHM\x00|HGW\r", "NOT_HL7"),
        (b"MSH|^~\\&|EPMA|RHM\x01|HGW\r", "NOT_HL7"),
        ("MSH|^~\\&|EPMA|RHM".encode("utf-16"), "NOT_HL7"),
        (b"MSH|^~\\&|EPMA|RHM|\x81\x8d\r", "INVALID_ENCODING"),
        (b"BHS|^~\\&|EPMA|RHM\rBTS|0\r", "NOT_HL7"),
    ],
)
def test_what_is_not_hl7_v2_is_rejected_as_a_whole(hl7: Hl7v2Adapter, payload: bytes, code: str) -> None:
    result = hl7.parse(payload)

    assert result.file_rejected
    assert result.prescriptions == []
    assert [i.code for i in result.file_issues if i.severity == "error"] == [code]
    assert all(i.message and i.expected for i in result.file_issues)


def test_windows_1252_is_read_with_a_warning(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("PID")[5] = [("Ó BRIAIN", "Zoë", "", "", "Ms")]
    order.segment("MSH")[18] = "8859/1"

    result = hl7.parse(order.render().encode("cp1252"))

    assert [(i.code, i.severity) for i in result.file_issues] == [("NOT_UTF8", "warning")]
    prescription = result.prescriptions[0].prescription
    assert prescription is not None and prescription.patient is not None
    assert (prescription.patient.family, prescription.patient.given) == ("Ó BRIAIN", ("Zoë",))


def test_utf8_names_are_read(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("PID")[5] = [("WÓJCIK", "Łukasz")]

    result = hl7.parse(order.render().encode())

    assert result.file_issues == []
    patient = result.prescriptions[0].prescription.patient  # type: ignore[union-attr]
    assert patient is not None and (patient.family, patient.given) == ("WÓJCIK", ("Łukasz",))


def test_several_messages_in_one_body_are_each_judged_on_their_own(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    bad = second_order(order)
    bad.segment("PID")[3] = [("9434765918", "", "", "NHS", "NH")]
    good = second_order(order, "HC-26-004713", "MSG00003")

    result = hl7.parse((order.render() + bad.render() + good.render()).encode())

    assert not result.file_rejected and result.file_issues == []
    first, rejected, third = result.prescriptions
    assert (first.accepted, rejected.accepted, third.accepted) == (True, False, True)
    assert (first.lines, rejected.lines, third.lines) == (list(range(1, 12)), list(range(12, 23)),
                                                          list(range(23, 34)))
    assert [(i.code, i.location.line, i.location.path) for i in rejected.issues] == [
        ("INVALID_NHS_NUMBER", 3, "PID-3[1].1")]
    assert [h.control_id for h in result.headers] == ["MSG00001", "MSG00002", "MSG00003"]
    assert result.batches == [(None, 3)]


def test_a_message_that_cannot_be_read_does_not_take_the_batch_down(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    broken = "MSH|^^^^|nonsense\rPID|x\r"

    result = hl7.parse((broken + second_order(order).render()).encode())

    unreadable, readable = result.prescriptions
    assert [(i.code, i.location.line, i.location.path) for i in unreadable.issues] == [
        ("MALFORMED_MESSAGE", 1, "MSH-2")]
    assert (unreadable.lines, readable.accepted) == ([1, 2], True)


def test_fhs_bhs_envelopes_are_accepted(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    payload = render_batch([order.render(), second_order(order).render()], batch_header=BATCH_HEADER,
                           file_header=FILE_HEADER)

    result = hl7.parse(payload.encode())

    assert result.file_issues == []
    assert [(p.rx_number, p.accepted, p.lines[0]) for p in result.prescriptions] == [
        ("HC-26-004711", True, 3), ("HC-26-004712", True, 14)]
    assert result.file_header is not None and result.file_header.control_id == "FILE-0007"
    [(batch_header, count)] = result.batches
    assert batch_header is not None and (batch_header.control_id, batch_header.sending_facility, count) == (
        "BATCH-0042", "RHM", 2)


def test_several_batches_in_one_file(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    first = render_batch([order.render()], batch_header={11: "B1"})
    second = render_batch([second_order(order).render()], batch_header={11: "B2"})
    payload = f"FHS|^~\\&|EPMA|RHM\r{first}{second}FTS|2\r"

    result = hl7.parse(payload.encode())

    assert result.file_issues == []
    assert [(h.control_id if h else None, n) for h, n in result.batches] == [("B1", 1), ("B2", 1)]
    assert all(p.accepted for p in result.prescriptions)


def test_trailer_counts_that_disagree_are_warnings(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    payload = render_batch([order.render()], batch_header={11: "B1"}, file_header={11: "F1"})
    payload = payload.replace("BTS|1", "BTS|2").replace("FTS|1", "FTS|3")

    result = hl7.parse(payload.encode())

    assert not result.file_rejected
    assert [(i.code, i.severity, i.location.path, i.value, i.expected) for i in result.file_issues] == [
        ("ENVELOPE_COUNT_MISMATCH", "warning", "BTS-1", "2", "1"),
        ("ENVELOPE_COUNT_MISMATCH", "warning", "FTS-1", "3", "1")]
    assert result.prescriptions[0].accepted


def test_a_batch_without_its_trailer_is_accepted_with_a_warning(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    result = hl7.parse(f"BHS|^~\\&|EPMA|RHM\r{order.render()}".encode())

    assert [(i.code, i.severity) for i in result.file_issues] == [("INVALID_ENVELOPE", "warning")]
    assert result.prescriptions[0].accepted


@pytest.mark.parametrize(
    ("payload", "code", "line"),
    [
        ("BHS|^~\\&|EPMA|RHM\rPID|||9434765919^^^NHS^NH\r{order}BTS|1\r", "STRAY_SEGMENT", 2),
        ("{order}BTS|1\r", "INVALID_ENVELOPE", 12),
        ("{order}FHS|^~\\&|EPMA|RHM\r", "INVALID_ENVELOPE", 12),
        ("BHS|^~\\&\r{order}BHS|^~\\&\r{order}BTS|1\r", "INVALID_ENVELOPE", 13),
        ("{order}FTS|1\r", "INVALID_ENVELOPE", 12),
    ],
)
def test_what_cannot_be_attributed_to_a_message_rejects_the_payload(
    hl7: Hl7v2Adapter, order: MessageSpec, payload: str, code: str, line: int
) -> None:
    result = hl7.parse(payload.format(order=order.render()).encode())

    assert result.file_rejected and result.prescriptions == []
    assert [(i.code, i.location.line) for i in result.file_issues if i.severity == "error"] == [(code, line)]
    assert result.headers and result.headers[0].control_id == "MSG00001"  # still known, to answer AR


def test_the_number_of_messages_is_limited_before_parsing(order: MessageSpec) -> None:
    adapter = Hl7v2Adapter(max_messages=2)
    payload = (order.render() * 3).encode()

    result = adapter.parse(payload)

    assert result.file_rejected and result.prescriptions == []
    [issue] = result.file_issues
    assert (issue.code, issue.location.line, issue.expected) == (
        "TOO_MANY_MESSAGES", 23, "at most 2 messages (one prescription each) per payload")
    assert len(adapter.parse((order.render() * 2).encode()).prescriptions) == 2
