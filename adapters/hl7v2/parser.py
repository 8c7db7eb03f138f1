"""The HL7 v2 adapter: a payload of RDE^O11 messages to one ParsedPrescription per message, each judged on its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from adapters.base import ParsedPrescription, ParseResult
from adapters.hl7v2 import issues as codes
from adapters.hl7v2.er7 import ESCAPES_EXPECTED, Er7Error, Segment, bad_escape, parse_segments
from adapters.hl7v2.mapping import SOURCE_FORMAT, read_prescription
from adapters.hl7v2.payload import EnvelopeHeader, Layout, RawMessage, decode, split
from adapters.hl7v2.profile import MESSAGE_STRUCTURES, MESSAGE_TYPE, VERSIONS, expected
from adapters.hl7v2.structure import read_structure
from adapters.jac import issues as jac_codes
from adapters.jac.fields import UK
from gateway.budget import checkpoint
from gateway.errors import Issue

MAX_MESSAGES = 5_000  # one prescription per message; the gateway's per-file limit
# An order of the profile has a handful of segments per item and a few notes: far more is an attack, and is refused
# before the message is split into fields (parsing stays linear in the payload, and the ACK small).
MAX_SEGMENTS_PER_MESSAGE = 1_000


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """What an ACK echoes from one message's MSH, and the message's segment ids (to number ERR locations)."""

    control_id: str = ""
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    trigger: str = ""
    processing_id: str = ""
    version: str = ""
    segment_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class Hl7ParseResult(ParseResult):
    """A ParseResult that also keeps, per message, the header its ACK answers and the batch envelopes.

    `headers[i]` belongs to `prescriptions[i]`; when the payload is rejected as a whole, `prescriptions` is empty
    but `headers` still lists every message found, so each can be answered AR.
    """

    headers: list[MessageHeader] = field(default_factory=list)
    file_header: EnvelopeHeader | None = None
    batches: list[tuple[EnvelopeHeader | None, int]] = field(default_factory=list)  # (BHS, number of messages)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Hl7v2Adapter:
    """Parses HL7 v2 homecare orders (RDE^O11, v2.4/v2.5, spec v1.0): single messages and FHS/BHS batches.

    `clock` gives the current time; dates of birth after today (in the UK) are refused.
    """

    name: str = SOURCE_FORMAT
    media_types: tuple[str, ...] = ("x-application/hl7-v2+er7", "application/hl7-v2", "application/x-hl7")

    def __init__(self, clock: Callable[[], datetime] = _utc_now, *, max_messages: int = MAX_MESSAGES) -> None:
        self._clock = clock
        self._max_messages = max_messages

    def parse(self, payload: bytes) -> Hl7ParseResult:
        result = Hl7ParseResult(format=self.name)
        text = decode(payload, result.file_issues)
        if text is None:
            return result
        layout = split(text, self._max_messages, result.file_issues)
        if result.file_rejected:
            _fill_headers(result, layout)
            return result
        result.file_header = layout.file_header
        result.batches = [(batch.header, len(batch.messages)) for batch in layout.batches]
        today = self._clock().astimezone(UK).date()
        for raw in layout.messages:
            parsed, header = parse_message(raw, today)
            result.prescriptions.append(parsed)
            result.headers.append(header)
        if not layout.messages:
            result.file_issues.append(codes.located(codes.NOT_HL7, None, None, "the payload holds no MSH message",
                                                    expected="at least one RDE^O11 message"))
        return result


def read_headers(payload: bytes, max_messages: int = MAX_MESSAGES) -> Hl7ParseResult:
    """Only the envelopes and each message's MSH: enough to answer, without judging the content."""
    result = Hl7ParseResult(format=SOURCE_FORMAT)
    text = decode(payload, result.file_issues)
    if text is not None:
        _fill_headers(result, split(text, max_messages, result.file_issues))
    return result


def _fill_headers(result: Hl7ParseResult, layout: Layout) -> None:
    result.file_header = layout.file_header
    result.batches = [(batch.header, len(batch.messages)) for batch in layout.batches]
    result.headers = [_header_only(raw) for raw in layout.messages]


def parse_message(raw: RawMessage, today: date) -> tuple[ParsedPrescription, MessageHeader]:
    """One message, all its errors located by segment number and path."""
    issues: list[Issue] = []
    lines = list(range(raw.start, raw.start + len(raw.lines)))
    checkpoint()
    if len(raw.lines) > MAX_SEGMENTS_PER_MESSAGE:
        issues.append(codes.located(
            codes.TOO_MANY_SEGMENTS, MAX_SEGMENTS_PER_MESSAGE + 1, None,
            f"the message has {len(raw.lines)} segments: it is refused unread",
            value=str(len(raw.lines)), expected=f"at most {MAX_SEGMENTS_PER_MESSAGE} segments per message"))
        return ParsedPrescription("", "", lines[:1], issues=issues), _header_only(raw)
    try:
        segments = parse_segments(raw.lines)
    except Er7Error as exc:
        issues.append(codes.located(codes.MALFORMED_MESSAGE, 1, "MSH-2", f"the message cannot be read: {exc}",
                                    value=raw.lines[0][:80], expected="MSH|^~\\&|... (4 distinct encoding characters)"))
        return ParsedPrescription("", "", lines, issues=issues), MessageHeader()
    header = _header(segments)
    if _check_header(segments[0], header, issues):
        _check_escapes(segments, issues)
        structure = read_structure(segments, issues)
        rx_number, rx_version, prescription = read_prescription(structure, today, issues)
    else:
        rx_number, rx_version, prescription = "", "", None
    issues.sort(key=_position)
    return ParsedPrescription(rx_number, rx_version, lines, prescription, issues), header


def _position(issue: Issue) -> tuple[int, int]:
    """Segment order, then field order (`PID-11[2].5` is field 11); a path without a field comes first."""
    path = issue.location.path or ""
    field = path[4:].split("[", 1)[0].split(".", 1)[0] if path[3:4] == "-" else ""
    return issue.location.line or 0, int(field) if field.isdigit() else 0


def _header_only(raw: RawMessage) -> MessageHeader:
    try:
        return _header(parse_segments(raw.lines[:1]))
    except Er7Error:
        return MessageHeader()


def _header(segments: list[Segment]) -> MessageHeader:
    msh = segments[0]
    return MessageHeader(
        control_id=msh.value(10).strip(), sending_application=msh.value(3).strip(),
        sending_facility=msh.value(4).strip(), receiving_application=msh.value(5).strip(),
        receiving_facility=msh.value(6).strip(), trigger=msh.value(9, 1, 2).strip(),
        processing_id=msh.value(11).strip(), version=msh.value(12).strip(),
        segment_ids=tuple(s.id for s in segments))


def _check_header(msh: Segment, header: MessageHeader, issues: list[Issue]) -> bool:
    """Whether this is a message the profile reads at all (else it is answered AR with why)."""
    message_type = (msh.value(9).strip(), header.trigger)
    structure = msh.value(9, 1, 3).strip()
    if message_type[0] != MESSAGE_TYPE[0]:
        issues.append(codes.located(
            codes.UNSUPPORTED_MESSAGE_TYPE, 1, "MSH-9.1", f"'{msh.field_text(9)}' is not a pharmacy encoded order",
            value=msh.field_text(9), expected=expected("MSH-9")))
    elif message_type[1] != MESSAGE_TYPE[1] or structure not in MESSAGE_STRUCTURES:
        issues.append(codes.located(
            codes.UNSUPPORTED_EVENT, 1, "MSH-9.2", f"'{msh.field_text(9)}' is not the event O11 (RDE_O11)",
            value=msh.field_text(9), expected=expected("MSH-9")))
    if header.version not in VERSIONS:
        issues.append(codes.located(
            codes.UNSUPPORTED_VERSION, 1, "MSH-12.1", f"version '{header.version}' is not supported",
            value=header.version, expected=expected("MSH-12.1")))
    if not header.control_id:
        issues.append(codes.located(jac_codes.MISSING_VALUE, 1, "MSH-10", "MSH-10 is mandatory but is blank",
                                    value="", expected=expected("MSH-10")))
    return not issues


def _check_escapes(segments: list[Segment], issues: list[Issue]) -> None:
    for segment in segments:
        if not segment.may_hold_escapes():
            continue
        esc = segment.encoding_characters[2]
        for path, raw in segment.leaves():
            sequence = bad_escape(raw, esc)
            if sequence is not None:
                issues.append(codes.located(
                    codes.INVALID_ESCAPE, segment.number, path, f"{sequence} is not an escape sequence HL7 v2 "
                    "defines (or one the gateway decodes)", value=raw, expected=ESCAPES_EXPECTED))
