"""The HL7 v2 adapter's issue codes, how each is located, and what it becomes in an ACK (HL7 table 0357).

Field checks shared with the JAC adapter report the JAC codes (`MISSING_VALUE`, `INVALID_NHS_NUMBER`, ...);
the codes below are the ones only HL7 needs. Every issue about a message is located as
`Location(line=<segment number in the message>, path="PID-3[1].1")`.
"""

from __future__ import annotations

from adapters.jac import issues as jac
from gateway.errors import Issue, Location, Severity

# The whole payload is rejected (warnings aside): every message in it is answered AR.
NOT_HL7 = "NOT_HL7"
INVALID_ENCODING = jac.INVALID_ENCODING
NOT_UTF8 = "NOT_UTF8"  # warning
TOO_MANY_MESSAGES = "TOO_MANY_MESSAGES"
STRAY_SEGMENT = "STRAY_SEGMENT"
INVALID_ENVELOPE = "INVALID_ENVELOPE"
ENVELOPE_COUNT_MISMATCH = "ENVELOPE_COUNT_MISMATCH"  # warning

# One message is rejected outright (AR): it is not a message this profile can read.
MALFORMED_MESSAGE = "MALFORMED_MESSAGE"
UNSUPPORTED_MESSAGE_TYPE = "UNSUPPORTED_MESSAGE_TYPE"
UNSUPPORTED_EVENT = "UNSUPPORTED_EVENT"
UNSUPPORTED_VERSION = "UNSUPPORTED_VERSION"
FRAME_TOO_LARGE = "FRAME_TOO_LARGE"  # MLLP
PROCESSING_FAILED = "PROCESSING_FAILED"  # MLLP: the gateway failed, not the message
TOO_MANY_SEGMENTS = "TOO_MANY_SEGMENTS"

# One message is in error (AE): read, but its content breaks the profile.
MISSING_SEGMENT = "MISSING_SEGMENT"
SEGMENT_SEQUENCE = "SEGMENT_SEQUENCE"
MALFORMED_SEGMENT = "MALFORMED_SEGMENT"
IGNORED_SEGMENT = "IGNORED_SEGMENT"  # warning
INVALID_ESCAPE = "INVALID_ESCAPE"

REJECTING_CODES = frozenset({
    NOT_HL7, INVALID_ENCODING, TOO_MANY_MESSAGES, STRAY_SEGMENT, INVALID_ENVELOPE, MALFORMED_MESSAGE,
    UNSUPPORTED_MESSAGE_TYPE, UNSUPPORTED_EVENT, UNSUPPORTED_VERSION, FRAME_TOO_LARGE, PROCESSING_FAILED,
    TOO_MANY_SEGMENTS,
    # raised by the gateway after parsing: the message is refused rather than wrong
    "TENANT_MISMATCH", "UNSUPPORTED_ACTION",
})

# HL7 table 0357 (message error condition codes), quoted in ERR-3.
_SEGMENT_SEQUENCE_ERROR = ("100", "Segment sequence error")
_REQUIRED_FIELD_MISSING = ("101", "Required field missing")
_DATA_TYPE_ERROR = ("102", "Data type error")
_TABLE_VALUE_NOT_FOUND = ("103", "Table value not found")
_DUPLICATE_KEY = ("205", "Duplicate key identifier")
_INTERNAL_ERROR = ("207", "Application internal error")
HL7_ERROR_CODES: dict[str, tuple[str, str]] = {
    MISSING_SEGMENT: _SEGMENT_SEQUENCE_ERROR,
    SEGMENT_SEQUENCE: _SEGMENT_SEQUENCE_ERROR,
    IGNORED_SEGMENT: _SEGMENT_SEQUENCE_ERROR,
    STRAY_SEGMENT: _SEGMENT_SEQUENCE_ERROR,
    TOO_MANY_SEGMENTS: _SEGMENT_SEQUENCE_ERROR,
    INVALID_ENVELOPE: _SEGMENT_SEQUENCE_ERROR,
    jac.MISSING_VALUE: _REQUIRED_FIELD_MISSING,
    jac.INVALID_CODE: _TABLE_VALUE_NOT_FOUND,
    UNSUPPORTED_MESSAGE_TYPE: ("200", "Unsupported message type"),
    UNSUPPORTED_EVENT: ("201", "Unsupported event code"),
    UNSUPPORTED_VERSION: ("203", "Unsupported version id"),
    jac.DUPLICATE_LINE_NO: _DUPLICATE_KEY,
    "VERSION_CONFLICT": _DUPLICATE_KEY,
    **dict.fromkeys((
        jac.INVALID_FORMAT, jac.INVALID_DATE, jac.INVALID_DATETIME, jac.FUTURE_DATE, jac.INVALID_INTEGER,
        jac.INVALID_DECIMAL, jac.OUT_OF_RANGE, jac.TOO_LONG, jac.INVALID_NHS_NUMBER, jac.INVALID_DMD_CODE,
        jac.INVALID_SNOMED_CODE, jac.INVALID_ODS_CODE, jac.INVALID_POSTCODE, jac.INVALID_PRESCRIBER_CODE,
        jac.INVALID_VERSION, jac.INCONSISTENT_VALUE, INVALID_ESCAPE, MALFORMED_SEGMENT, MALFORMED_MESSAGE,
        NOT_HL7, INVALID_ENCODING,
    ), _DATA_TYPE_ERROR),
}


def hl7_error_code(code: str) -> tuple[str, str]:
    """The HL7 table 0357 code and text for one of our issue codes (207 for anything unforeseen)."""
    return HL7_ERROR_CODES.get(code, _INTERNAL_ERROR)


def located(
    code: str,
    segment: int | None,
    path: str | None,
    message: str,
    *,
    value: str | None = None,
    expected: str | None = None,
    severity: Severity = "error",
) -> Issue:
    """An issue at a segment of a message (`segment` = its position, MSH = 1) and a path such as `RXE-2.1`."""
    where = ", ".join(part for part in (f"segment {segment}" if segment else "", path or "") if part)
    return Issue(code=code, message=f"{where}: {message}" if where else message,
                 location=Location(line=segment, path=path), severity=severity, value=value, expected=expected)
