"""Bytes to messages: decoding, the not-HL7 checks, and the batch envelopes (FHS/BHS ... BTS/FTS).

Segments are told apart by their terminators (`\\r`, `\\n` or `\\r\\n`); each message's text is then parsed on its
own by python-hl7 (`er7`), so that one broken message never takes the others in the batch down with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from adapters.hl7v2 import issues as codes
from adapters.hl7v2.er7 import Er7Error, is_segment_id, parse_header, parse_trailer
from gateway.errors import Issue

UTF8_BOM = b"\xef\xbb\xbf"
MLLP_START, MLLP_END = b"\x0b", b"\x1c\r"
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SEGMENT_END_RE = re.compile(r"\r\n|\r|\n")
_STARTS = ("MSH", "BHS", "FHS")
_ENVELOPE_EXPECTED = "FHS? (BHS MSH... BTS)* FTS?, or messages starting with MSH"


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """An FHS or BHS: who sent the file or batch, and its control id (echoed in the response envelope)."""

    control_id: str = ""
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""


@dataclass(slots=True)
class RawMessage:
    """One message's segment lines; `start` is the number of its MSH among the payload's segments."""

    start: int
    lines: list[str]


@dataclass(slots=True)
class Batch:
    header: EnvelopeHeader | None
    header_line: str = ""
    messages: list[RawMessage] = field(default_factory=list)
    closed: bool = False


@dataclass(slots=True)
class Layout:
    """The payload's envelopes and messages, in order; bare messages form a batch without a header."""

    file_header: EnvelopeHeader | None = None
    file_header_line: str = ""
    batches: list[Batch] = field(default_factory=list)

    @property
    def messages(self) -> list[RawMessage]:
        return [m for batch in self.batches for m in batch.messages]


def decode(payload: bytes, file_issues: list[Issue]) -> str | None:
    """The payload's text (UTF-8, else Windows-1252), or None when it is not HL7 v2 text at all."""
    body = payload.removeprefix(UTF8_BOM)
    if body.startswith(MLLP_START):  # an MLLP frame posted as it is
        body = body[1:].removesuffix(MLLP_END).removesuffix(MLLP_END[:1])
    if b"\x00" in body:
        file_issues.append(_not_hl7("the payload contains NUL bytes: it is binary (or UTF-16), not HL7 v2 text"))
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = body.decode("cp1252")
        except UnicodeDecodeError as exc:
            file_issues.append(codes.located(
                codes.INVALID_ENCODING, None, None, f"byte {exc.start} (0x{body[exc.start]:02X}) is neither UTF-8 "
                "nor Windows-1252", value=f"0x{body[exc.start]:02X}", expected="UTF-8 or Windows-1252 text"))
            return None
        file_issues.append(codes.located(
            codes.NOT_UTF8, None, None, "the payload is not valid UTF-8, so it was read as Windows-1252",
            severity="warning", expected="UTF-8 text (MSH-18 UNICODE UTF-8)"))
    control = _CONTROL_RE.search(text)
    if control:
        file_issues.append(_not_hl7(f"the payload contains the control character U+{ord(control.group()):04X}: "
                                    "it is binary, not HL7 v2 text"))
        return None
    head = text.lstrip()
    if not head.startswith(_STARTS):
        reason = "the payload is empty" if not head else "the payload does not start with an MSH, BHS or FHS segment"
        file_issues.append(_not_hl7(reason, value=head[:40] or None))
        return None
    return text


def split(text: str, max_messages: int, file_issues: list[Issue]) -> Layout:
    """Group the segments into envelopes and messages; what cannot be attributed to a message rejects the file."""
    layout = Layout()
    batch: Batch | None = None
    current: RawMessage | None = None
    number = 0
    for line in _SEGMENT_END_RE.split(text):
        line = line.strip()
        if not line:
            continue
        number += 1
        kind = line[:3]
        if kind == "MSH":
            if batch is None or batch.closed:
                batch = Batch(header=None)
                layout.batches.append(batch)
            if len(layout.messages) >= max_messages:
                file_issues.append(codes.located(
                    codes.TOO_MANY_MESSAGES, number, "MSH", f"the payload holds more than {max_messages} messages",
                    expected=f"at most {max_messages} messages (one prescription each) per payload"))
                return layout
            current = RawMessage(number, [line])
            batch.messages.append(current)
        elif kind in ("FHS", "BHS", "BTS", "FTS"):
            current = None
            batch = _envelope(kind, line, number, layout, batch, file_issues)
        elif current is not None:
            current.lines.append(line)
        else:
            what = f"'{kind}'" if is_segment_id(kind) else "a line that is not a segment"
            file_issues.append(codes.located(
                codes.STRAY_SEGMENT, number, kind if is_segment_id(kind) else None,
                f"{what} stands outside any message: it cannot be attributed to a prescription",
                value=line[:80], expected=_ENVELOPE_EXPECTED))
    if batch is not None and batch.header is not None and not batch.closed:
        _warn(file_issues, number, "BTS", "the last batch has no BTS trailer: it may have been cut short")
    return layout


def _envelope(kind: str, line: str, number: int, layout: Layout, batch: Batch | None,
              file_issues: list[Issue]) -> Batch | None:
    if kind == "FHS":
        if number != 1:
            _fail(file_issues, number, kind, "FHS must be the first segment of the payload")
        layout.file_header, layout.file_header_line = _header(line, number, file_issues), line
        return batch
    if kind == "BHS":
        if batch is not None and batch.header is not None and not batch.closed:
            _fail(file_issues, number, kind, "a BHS opens a batch before the previous one is closed by its BTS")
        batch = Batch(header=_header(line, number, file_issues), header_line=line)
        layout.batches.append(batch)
        return batch
    if kind == "BTS":
        if batch is None or batch.header is None or batch.closed:
            _fail(file_issues, number, kind, "a BTS closes no batch: it has no BHS before it")
            return batch
        batch.closed = True
        _check_count(batch.header_line, line, number, len(batch.messages), "messages", file_issues)
        return batch
    if layout.file_header is None:  # FTS
        _fail(file_issues, number, kind, "an FTS closes no file: the payload does not start with FHS")
    else:
        _check_count(layout.file_header_line, line, number, len(layout.batches), "batches", file_issues)
    return batch


def _header(line: str, number: int, file_issues: list[Issue]) -> EnvelopeHeader:
    try:
        segment = parse_header(line)
    except Er7Error as exc:
        _warn(file_issues, number, line[:3], f"the {line[:3]} cannot be read ({exc}): its fields are ignored")
        return EnvelopeHeader()
    return EnvelopeHeader(control_id=segment.value(11).strip(), sending_application=segment.value(3).strip(),
                          sending_facility=segment.value(4).strip(), receiving_application=segment.value(5).strip(),
                          receiving_facility=segment.value(6).strip())


def _check_count(header: str, trailer: str, number: int, actual: int, what: str, file_issues: list[Issue]) -> None:
    """BTS-1 and FTS-1 count what they close; a mismatch means something was lost or added on the way."""
    kind = trailer[:3]
    try:
        declared = parse_trailer(header, trailer).value(1).strip()
    except Er7Error:
        return
    if declared and declared != str(actual):
        file_issues.append(codes.located(
            codes.ENVELOPE_COUNT_MISMATCH, number, f"{kind}-1", f"{kind}-1 counts {declared} {what} but "
            f"{actual} were received", severity="warning", value=declared, expected=str(actual)))


def _fail(file_issues: list[Issue], number: int, kind: str, message: str) -> None:
    file_issues.append(codes.located(codes.INVALID_ENVELOPE, number, kind, message, value=kind,
                                     expected=_ENVELOPE_EXPECTED))


def _warn(file_issues: list[Issue], number: int, kind: str, message: str) -> None:
    file_issues.append(codes.located(codes.INVALID_ENVELOPE, number, kind, message, severity="warning",
                                     expected=_ENVELOPE_EXPECTED))


def _not_hl7(message: str, *, value: str | None = None) -> Issue:
    return codes.located(codes.NOT_HL7, None, None, message, value=value,
                         expected="HL7 v2 ER7 text: an MSH segment (or a BHS/FHS batch envelope) first")
