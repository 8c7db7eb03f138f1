"""The Ascribe adapter's stable issue codes and the constructor that locates each issue by source line and XPath.

Codes shared with the JAC adapter are imported from it, so a trust sees one vocabulary whatever it sends.
"""

from __future__ import annotations

from adapters.jac.issues import (
    FUTURE_DATE,
    INVALID_CODE,
    INVALID_DATE,
    INVALID_DATETIME,
    INVALID_DECIMAL,
    INVALID_DMD_CODE,
    INVALID_ENCODING,
    INVALID_FORMAT,
    INVALID_INTEGER,
    INVALID_NHS_NUMBER,
    INVALID_ODS_CODE,
    INVALID_POSTCODE,
    INVALID_PRESCRIBER_CODE,
    INVALID_PRESCRIPTION,
    INVALID_SNOMED_CODE,
    INVALID_VERSION,
    MISSING_VALUE,
    NO_PRESCRIPTIONS,
    OUT_OF_RANGE,
)
from gateway.errors import Issue, Location, Severity

# File level: the whole document is rejected.
TOO_LARGE = "TOO_LARGE"
NOT_WELL_FORMED = "NOT_WELL_FORMED"
DOCTYPE_FORBIDDEN = "DOCTYPE_FORBIDDEN"
RESOURCE_LIMIT = "RESOURCE_LIMIT"
WRONG_ROOT = "WRONG_ROOT"
TOO_MANY_PRESCRIPTIONS = "TOO_MANY_PRESCRIPTIONS"

# Prescription level (also file level when found on the root element).
UNEXPECTED_ELEMENT = "UNEXPECTED_ELEMENT"
UNEXPECTED_ATTRIBUTE = "UNEXPECTED_ATTRIBUTE"
UNEXPECTED_TEXT = "UNEXPECTED_TEXT"
INVALID_CONTENT = "INVALID_CONTENT"
DUPLICATE_LINE_NO = "DUPLICATE_LINE_NO"
DUPLICATE_PRESCRIPTION = "DUPLICATE_PRESCRIPTION"
EXTRA_TELECOM = "EXTRA_TELECOM"  # warning

__all__ = [
    "DOCTYPE_FORBIDDEN", "DUPLICATE_LINE_NO", "DUPLICATE_PRESCRIPTION", "EXTRA_TELECOM", "FUTURE_DATE", "INVALID_CODE",
    "INVALID_CONTENT", "INVALID_DATE", "INVALID_DATETIME", "INVALID_DECIMAL", "INVALID_DMD_CODE", "INVALID_ENCODING",
    "INVALID_FORMAT", "INVALID_INTEGER", "INVALID_NHS_NUMBER", "INVALID_ODS_CODE", "INVALID_POSTCODE",
    "INVALID_PRESCRIBER_CODE", "INVALID_PRESCRIPTION", "INVALID_SNOMED_CODE", "INVALID_VERSION", "MISSING_VALUE",
    "NOT_WELL_FORMED", "NO_PRESCRIPTIONS", "OUT_OF_RANGE", "RESOURCE_LIMIT", "TOO_LARGE", "TOO_MANY_PRESCRIPTIONS",
    "UNEXPECTED_ATTRIBUTE", "UNEXPECTED_ELEMENT", "UNEXPECTED_TEXT", "WRONG_ROOT", "located",
]

# Values are quoted back in messages and issues; a huge text node must not be copied into every report.
_VALUE_LIMIT = 200


def shorten(value: str | None) -> str | None:
    if value is None or len(value) <= _VALUE_LIMIT:
        return value
    return f"{value[:_VALUE_LIMIT]}... ({len(value)} characters)"


def located(
    code: str,
    message: str,
    *,
    line: int | None,
    path: str | None = None,
    value: str | None = None,
    expected: str | None = None,
    rx: str | None = None,
    severity: Severity = "error",
    column: int | None = None,
) -> Issue:
    """An issue naming the prescription id (when known), the source line and the XPath of the node.

    `column` (a character position, for XML that is not well-formed) goes in the message only: `Location.column`
    names a CSV column.
    """
    parts = (f"line {line}" if line else "", f"column {column}" if column else "", path or "")
    where = ", ".join(part for part in parts if part)
    prefix = f"prescription {rx}, " if rx else ""
    return Issue(code=code, message=f"{prefix}{where}: {message}" if where else f"{prefix}{message}",
                 location=Location(line=line, path=path), severity=severity, value=shorten(value), expected=expected)


# Message wordings shared by the schema findings and the checks made after it, so that one fault reads alike.


def describe(step: str) -> str:
    """`@quantity` → `attribute quantity`; `Given[1]` → `element Given`."""
    if step.startswith("@"):
        return f"attribute {step[1:]}"
    return f"element {step.partition('[')[0]}"


def absent(step: str, why: str = "is mandatory") -> str:
    return f"{describe(step)} is missing; it {why}"


def blank(step: str, why: str = "is mandatory") -> str:
    return f"{describe(step)} is blank; it {why}"


def not_one_of(value: str, allowed: str | None) -> str:
    return f"'{shorten(value)}' is not one of {allowed}"


def out_of_range(value: str, allowed: str | None) -> str:
    return f"{shorten(value)} is out of range ({allowed})"


def invalid(value: str, allowed: str | None) -> str:
    return f"'{shorten(value)}' is not valid here; expected {allowed}"
