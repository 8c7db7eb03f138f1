"""The JAC adapter's stable issue codes and the constructors that locate each issue in the file."""

from __future__ import annotations

from gateway.errors import Issue, Location, Severity

# File level: the whole file is rejected (warnings aside).
NOT_CSV = "NOT_CSV"
INVALID_ENCODING = "INVALID_ENCODING"
MALFORMED_CSV = "MALFORMED_CSV"
NO_HEADER = "NO_HEADER"
MISSING_COLUMN = "MISSING_COLUMN"
DUPLICATE_COLUMN = "DUPLICATE_COLUMN"
UNKNOWN_COLUMN = "UNKNOWN_COLUMN"  # warning
POSSIBLE_UTF8_WITHOUT_BOM = "POSSIBLE_UTF8_WITHOUT_BOM"  # warning
NO_PRESCRIPTIONS = "NO_PRESCRIPTIONS"  # warning
TOO_MANY_PRESCRIPTIONS = "TOO_MANY_PRESCRIPTIONS"

# Prescription level: that prescription is rejected, the others are not affected.
WRONG_FIELD_COUNT = "WRONG_FIELD_COUNT"
MISSING_VALUE = "MISSING_VALUE"
INCONSISTENT_VALUE = "INCONSISTENT_VALUE"
DUPLICATE_LINE_NO = "DUPLICATE_LINE_NO"
INVALID_CODE = "INVALID_CODE"
INVALID_FORMAT = "INVALID_FORMAT"
INVALID_DATE = "INVALID_DATE"
INVALID_DATETIME = "INVALID_DATETIME"
FUTURE_DATE = "FUTURE_DATE"
INVALID_INTEGER = "INVALID_INTEGER"
INVALID_DECIMAL = "INVALID_DECIMAL"
OUT_OF_RANGE = "OUT_OF_RANGE"
TOO_LONG = "TOO_LONG"
INVALID_NHS_NUMBER = "INVALID_NHS_NUMBER"
INVALID_DMD_CODE = "INVALID_DMD_CODE"
INVALID_SNOMED_CODE = "INVALID_SNOMED_CODE"
INVALID_ODS_CODE = "INVALID_ODS_CODE"
INVALID_POSTCODE = "INVALID_POSTCODE"
INVALID_PRESCRIBER_CODE = "INVALID_PRESCRIBER_CODE"
INVALID_VERSION = "INVALID_VERSION"
INVALID_PRESCRIPTION = "INVALID_PRESCRIPTION"


def issue(
    code: str,
    message: str,
    *,
    line: int | None = None,
    column: str | None = None,
    value: str | None = None,
    expected: str | None = None,
    severity: Severity = "error",
) -> Issue:
    return Issue(code=code, message=message, location=Location(line=line, column=column), severity=severity,
                 value=value, expected=expected)


def field_issue(code: str, line: int, column: str, value: str, expected: str, message: str) -> Issue:
    """An error in one cell: the line, the column as the spec spells it, what was seen and what was expected."""
    return Issue(code=code, message=message, location=Location(line=line, column=column), value=value,
                 expected=expected)
