"""ACKs: AA, AE and AR per message, an ERR segment locating each issue, batches answered in kind."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from adapters.base import ParsedPrescription, ParseResult
from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2.ack import build_acks, reject_payload, render_ack
from adapters.hl7v2.er7 import Segment, parse_segments
from adapters.hl7v2.writer import MessageSpec, render_batch
from gateway.errors import Issue, Location


@dataclass
class GatewayOutcome:
    """Shaped like the gateway's PrescriptionOutcome."""

    outcome: str
    issues: list[Issue] = field(default_factory=list)
    short_form_id: str | None = None
    message_id: str | None = None


def ids() -> itertools.count[int]:
    return itertools.count(1)


def control_ids() -> object:
    counter = ids()
    return lambda: f"ACK{next(counter):04d}"


def read(ack: str | bytes) -> list[list[Segment]]:
    """An answer split into messages (each from its MSH), envelopes left out, read back with python-hl7."""
    text = ack.decode() if isinstance(ack, bytes) else ack
    messages: list[list[str]] = []
    for line in text.split("\r"):
        if line.startswith("MSH"):
            messages.append([line])
        elif line and line[:3] not in ("BHS", "BTS", "FHS", "FTS"):
            messages[-1].append(line)
    return [parse_segments(lines) for lines in messages]


def msa(message: list[Segment]) -> tuple[str, str]:
    return message[1].value(1), message[1].value(2)


def errs(message: list[Segment]) -> list[Segment]:
    return [s for s in message if s.id == "ERR"]


def erl(err: Segment) -> tuple[str, ...]:
    return tuple(err.value(2, 1, c) for c in range(1, 6))


def answer(result: ParseResult, outcomes: dict[int, object] | None = None, now: datetime | None = None) -> bytes:
    return render_ack(result, outcomes, now=now, control_ids=control_ids())  # type: ignore[arg-type]


def test_a_valid_message_is_answered_aa(hl7: Hl7v2Adapter, order: MessageSpec, frozen_now: datetime) -> None:
    ack = answer(hl7.parse(order.render().encode()), now=frozen_now)

    assert ack.decode() == (
        "MSH|^~\\&|HGW|HGW|EPMA|RHM|20261122093000+0000||ACK^O11^ACK|ACK0001|P|2.5\r"
        "MSA|AA|MSG00001|accepted\r")


def test_errors_are_answered_ae_with_one_err_each_locating_it(
    hl7: Hl7v2Adapter, order: MessageSpec, frozen_now: datetime
) -> None:
    order.segment("PID")[3] = [("K1234567", "", "", "RHM", "MR"), ("9434765918", "", "", "NHS", "NH")]
    order.segment("ORC", 2)[9] = "20261121"
    order.segment("RXE", 2)[2] = ("110171000001105", "Water for injections 2ml ampoules", "DMD")
    order.segment("ZHC")[2] = ""
    result = hl7.parse(order.render().encode())

    [message] = read(answer(result, now=frozen_now))

    assert msa(message) == ("AE", "MSG00001")
    found = errs(message)
    assert [erl(e) for e in found] == [
        ("PID", "1", "3", "2", "1"),
        ("ORC", "2", "9", "", ""),
        ("RXE", "2", "2", "1", "1"),
        ("ZHC", "1", "2", "", ""),
    ]
    assert [e.value(1, 1, 4) for e in found] == ["102", "102", "102", "101"]
    assert [(e.value(3, 1, 1), e.value(3, 1, 3), e.value(4)) for e in found][0] == ("102", "HL70357", "E")
    assert [e.value(5) for e in found] == ["INVALID_NHS_NUMBER", "INCONSISTENT_VALUE", "INVALID_DMD_CODE",
                                          "MISSING_VALUE"]
    nhs = found[0]
    assert nhs.value(7) == "value seen: 9434765918; expected: 10 digits with a valid Modulus 11 check digit"
    assert nhs.value(8) == result.prescriptions[0].issues[0].message
    assert nhs.value(1, 1, 1) == "PID" and nhs.value(1, 1, 3) == "3"  # ERR-1 for v2.4 readers


def test_text_with_separators_is_escaped_in_the_ack(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("PID")[7] = "1968|02^14&~\\"

    [message] = read(answer(hl7.parse(order.render().encode())))

    [err] = errs(message)
    assert err.value(7).startswith("value seen: 1968|02^14&~\\; expected")


def test_unsupported_messages_are_answered_ar(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segment("MSH")[9] = ("ADT", "A01", "ADT_A01")

    [message] = read(answer(hl7.parse(order.render().encode())))

    assert msa(message) == ("AR", "MSG00001")
    assert message[0].value(9, 1, 2) == "A01"
    [err] = errs(message)
    assert (erl(err), err.value(3), err.value(5)) == (("MSH", "1", "9", "1", "1"), "200", "UNSUPPORTED_MESSAGE_TYPE")


def test_warnings_ride_along_an_aa(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    order.segments.insert(3, ("AL1", {1: "1"}))

    [message] = read(answer(hl7.parse(order.render().encode())))

    assert msa(message) == ("AA", "MSG00001")
    [err] = errs(message)
    assert (erl(err)[:2], err.value(4), err.value(5)) == (("AL1", "1"), "W", "IGNORED_SEGMENT")


def test_a_payload_that_is_not_hl7_gets_one_ar_with_a_blank_msa_2(hl7: Hl7v2Adapter) -> None:
    [message] = read(answer(hl7.parse(b'{"resourceType": "Bundle"}')))

    assert msa(message) == ("AR", "")
    assert [e.value(5) for e in errs(message)] == ["NOT_HL7"]


def test_a_rejected_payload_answers_every_message_it_found_ar(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    payload = f"BHS|^~\\&|EPMA|RHM|||||||B9\rPID|stray\r{order.render()}BTS|1\r"

    ack = answer(hl7.parse(payload.encode())).decode()

    assert ack.startswith("BHS|^~\\&|HGW|HGW|EPMA|RHM|")
    assert ack.split("\r", 1)[0].endswith("||||ACK0002|B9")  # BHS-11 ours, BHS-12 theirs
    [message] = read(ack)
    assert msa(message) == ("AR", "MSG00001")
    assert [e.value(5) for e in errs(message)] == ["STRAY_SEGMENT"]
    assert ack.endswith("BTS|1\r")


def test_each_message_of_a_batch_gets_its_own_ack_in_the_same_envelopes(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    bad = MessageSpec([(name, dict(fields)) for name, fields in order.segments])
    bad.segment("MSH")[10] = "MSG00002"
    bad.segment("PID")[8] = "X"
    payload = render_batch([order.render(), bad.render()], batch_header={3: "EPMA", 4: "RHM", 11: "B1"},
                           file_header={3: "EPMA", 4: "RHM", 11: "F1"})

    ack = answer(hl7.parse(payload.encode())).decode()

    lines = ack.split("\r")
    assert [line[:3] for line in lines if line] == ["FHS", "BHS", "MSH", "MSA", "MSH", "MSA", "ERR", "BTS", "FTS"]
    assert lines[0].endswith("|F1") and lines[1].endswith("|B1")  # FHS-12 / BHS-12 reference the originals
    assert "BTS|2" in lines and "FTS|1" in lines
    assert [msa(m) for m in read(ack)] == [("AA", "MSG00001"), ("AE", "MSG00002")]


def test_several_bare_messages_are_answered_with_a_batch(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    ack = answer(hl7.parse((order.render() * 2).encode())).decode()

    assert ack.startswith("BHS|") and ack.endswith("BTS|2\r")
    assert [msa(m)[0] for m in read(ack)] == ["AA", "AA"]


def test_build_acks_lists_one_ack_per_message(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    acks = build_acks(hl7.parse((order.render() * 3).encode()))

    assert len(acks) == 3 and all(a.startswith("MSH|") for a in acks)
    assert len({read(a)[0][0].value(10) for a in acks}) == 3  # fresh control ids


# --- the gateway's outcomes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["accepted", "duplicate", "held"])
def test_outcomes_the_gateway_accepted_are_aa(hl7: Hl7v2Adapter, order: MessageSpec, word: str) -> None:
    outcome = GatewayOutcome(word, short_form_id="83C40E-A23856-00123W", message_id="9b1deb4d")

    [message] = read(answer(hl7.parse(order.render().encode()), {0: outcome}))

    assert msa(message) == ("AA", "MSG00001")
    assert message[1].value(3) == f"{word}; short-form id 83C40E-A23856-00123W; message id 9b1deb4d"


def test_a_plain_word_is_an_outcome_too(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    [message] = read(answer(hl7.parse(order.render().encode()), {0: "duplicate"}))

    assert (msa(message), message[1].value(3)) == (("AA", "MSG00001"), "duplicate")


def test_a_gateway_rejection_is_located_in_the_message(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    result = hl7.parse(order.render().encode())
    conflict = Issue(code="VERSION_CONFLICT", message="version 1 of HC-26-004711 was already received",
                     location=Location(line=1, column="RxVersion"), value="1", expected="a version above 1")
    outcome = GatewayOutcome("rejected", issues=[*result.prescriptions[0].issues, conflict])

    [message] = read(answer(result, {0: outcome}))

    assert msa(message) == ("AE", "MSG00001")
    [err] = errs(message)
    assert (erl(err)[:3], err.value(3), err.value(5)) == (("ZHC", "1", "7"), "205", "VERSION_CONFLICT")


def test_a_refusal_by_the_gateway_is_ar(hl7: Hl7v2Adapter, order: MessageSpec) -> None:
    refusal = Issue(code="TENANT_MISMATCH", message="TrustODS is not the trust this client acts for",
                    location=Location(line=1, column="TrustODS"), value="RHM", expected="RBA")

    [message] = read(answer(hl7.parse(order.render().encode()), {0: GatewayOutcome("rejected", [refusal])}))

    assert msa(message)[0] == "AR"
    assert erl(errs(message)[0])[:3] == ("MSH", "1", "4")


def test_a_plain_parse_result_is_answered_too() -> None:
    parsed = ParsedPrescription("HC-1", "1", [1], issues=[Issue(code="X", message="boom")])

    [message] = read(answer(ParseResult(format="hl7v2", prescriptions=[parsed])))

    assert msa(message) == ("AE", "")
    [err] = errs(message)
    assert (erl(err), err.value(3), err.value(8)) == (("", "", "", "", ""), "207", "boom")


def test_reject_payload_answers_ar_echoing_what_it_can_read(order: MessageSpec) -> None:
    head = order.render().encode()[:120]  # cut short, as a frame over the size limit is
    issue = Issue(code="FRAME_TOO_LARGE", message="too large", value="99999999")

    [message] = read(reject_payload(head, issue, control_ids=control_ids()))  # type: ignore[arg-type]

    assert msa(message) == ("AR", "MSG00001")
    assert [e.value(5) for e in errs(message)] == ["FRAME_TOO_LARGE"]
