"""The FHIR adapter's stable issue codes and `Reader`, which turns each problem into an Issue located by FHIRPath.

Codes shared with the JAC adapter keep its names (INVALID_NHS_NUMBER, INCONSISTENT_VALUE, ...); the others name
the EPS rule they stand for (INVALID_SHORT_FORM_ID is EPS's "prescriptionID has invalid checksum").
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.errors import Issue, Location, Severity

# Message level: the payload is not a prescription message at all (ParseResult.file_issues).
INVALID_JSON = "INVALID_JSON"
NOT_A_MESSAGE = "NOT_A_MESSAGE"
UNSUPPORTED_MESSAGE_EVENT = "UNSUPPORTED_MESSAGE_EVENT"

# Prescription level: the prescription is rejected.
MISSING_VALUE = "MISSING_VALUE"
INVALID_VALUE = "INVALID_VALUE"
INVALID_CODE = "INVALID_CODE"
INCONSISTENT_VALUE = "INCONSISTENT_VALUE"
UNRESOLVED_REFERENCE = "UNRESOLVED_REFERENCE"
DUPLICATE_FULL_URL = "DUPLICATE_FULL_URL"
TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
INVALID_DATE = "INVALID_DATE"
INVALID_DATETIME = "INVALID_DATETIME"
FUTURE_DATE = "FUTURE_DATE"
INVALID_INTEGER = "INVALID_INTEGER"
INVALID_DECIMAL = "INVALID_DECIMAL"
OUT_OF_RANGE = "OUT_OF_RANGE"
INVALID_NHS_NUMBER = "INVALID_NHS_NUMBER"
INVALID_DMD_CODE = "INVALID_DMD_CODE"
INVALID_SNOMED_CODE = "INVALID_SNOMED_CODE"
INVALID_ODS_CODE = "INVALID_ODS_CODE"
INVALID_POSTCODE = "INVALID_POSTCODE"
INVALID_PRESCRIBER_CODE = "INVALID_PRESCRIBER_CODE"
UNSUPPORTED_PRESCRIBER = "UNSUPPORTED_PRESCRIBER"
INVALID_SHORT_FORM_ID = "INVALID_SHORT_FORM_ID"
INVALID_PRESCRIPTION_ID = "INVALID_PRESCRIPTION_ID"
PATIENT_DECEASED = "PATIENT_DECEASED"
INVALID_PRESCRIPTION = "INVALID_PRESCRIPTION"

# Warnings: the prescription is accepted, the trust is told what the gateway assumed.
DEFAULTED_VALUE = "DEFAULTED_VALUE"
NOT_HOMECARE_PRESCRIPTION_TYPE = "NOT_HOMECARE_PRESCRIPTION_TYPE"
UNSIGNED_MESSAGE = "UNSIGNED_MESSAGE"

_MAX_VALUE_CHARS = 200
_HUGE = 10**100
_INTEGER_DIGITS = 18  # no count or duration in a prescription is anywhere near 10**18


def shown(value: object) -> str:
    """A value as quoted in an issue: JSON scalars as written, anything else cut short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) > _HUGE:
        return "a number too large to quote"
    return str(value)[:_MAX_VALUE_CHARS]


def issue(
    code: str,
    path: str,
    message: str,
    *,
    value: object = None,
    expected: str | None = None,
    severity: Severity = "error",
) -> Issue:
    return Issue(code=code, message=message, location=Location(path=path), severity=severity,
                 value=None if value is None else shown(value), expected=expected)


class Reader:
    """Typed reads from FHIR JSON (dicts from `loads_bundle`); each problem is recorded as a located Issue."""

    __slots__ = ("issues",)

    def __init__(self, issues: list[Issue] | None = None) -> None:
        self.issues: list[Issue] = [] if issues is None else issues

    @property
    def error_count(self) -> int:
        return sum(1 for i in self.issues if i.severity in ("error", "fatal"))

    def fail(self, code: str, path: str, message: str, *, value: object = None, expected: str | None = None) -> None:
        self.issues.append(issue(code, path, message, value=value, expected=expected))

    def warn(self, code: str, path: str, message: str, *, value: object = None, expected: str | None = None) -> None:
        self.issues.append(issue(code, path, message, value=value, expected=expected, severity="warning"))

    def missing(self, path: str, message: str, expected: str | None = None) -> None:
        self.fail(MISSING_VALUE, path, message, expected=expected)

    def string(self, obj: Any, key: str, path: str, *, required: bool = False, what: str = "") -> str | None:
        """`obj[key]` as a non-blank string (stripped); None when absent, blank or not a string (then recorded)."""
        value = obj.get(key) if isinstance(obj, dict) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
        if value is not None and not isinstance(value, str):
            self.fail(INVALID_VALUE, f"{path}.{key}", f"{key} must be a string", value=value, expected="a string")
        elif required:
            self.missing(f"{path}.{key}", f"{what or key} is required")
        return None

    def decimal(self, obj: Any, key: str, path: str, *, required: bool = False, positive: bool = False,
                what: str = "") -> Decimal | None:
        """A JSON number as an exact Decimal (never through float)."""
        value = obj.get(key) if isinstance(obj, dict) else None
        if value is None:
            if required:
                self.missing(f"{path}.{key}", f"{what or key} is required", "a decimal number")
            return None
        number = _as_decimal(value)
        if number is None:
            self.fail(INVALID_DECIMAL, f"{path}.{key}", f"{what or key} must be a number", value=value,
                      expected="a decimal number")
            return None
        if positive and number <= 0:
            self.fail(OUT_OF_RANGE, f"{path}.{key}", f"{what or key} must be greater than 0", value=value,
                      expected="a number > 0")
            return None
        return number

    def integer(self, obj: Any, key: str, path: str, *, minimum: int, maximum: int | None = None,
                what: str = "") -> int | None:
        """A JSON integer within [minimum, maximum]; None when absent (not recorded) or wrong (recorded)."""
        value = obj.get(key) if isinstance(obj, dict) else None
        if value is None:
            return None
        number = _as_decimal(value)
        if number is not None and number.adjusted() >= _INTEGER_DIGITS:
            self.fail(OUT_OF_RANGE, f"{path}.{key}", f"{what or key} is out of range", value=value,
                      expected=f"an integer >= {minimum}" + ("" if maximum is None else f" and <= {maximum}"))
            return None
        if number is None or number != number.to_integral_value():
            self.fail(INVALID_INTEGER, f"{path}.{key}", f"{what or key} must be a whole number", value=value,
                      expected="an integer")
            return None
        result = int(number)
        if result < minimum or (maximum is not None and result > maximum):
            bounds = f"{minimum}-{maximum}" if maximum is not None else f">= {minimum}"
            self.fail(OUT_OF_RANGE, f"{path}.{key}", f"{what or key} is out of range", value=value,
                      expected=f"an integer {bounds}")
            return None
        return result

    def date_value(self, value: Any, path: str, *, what: str, not_after: date | None = None) -> date | None:
        """A full FHIR date (YYYY-MM-DD); partial dates are refused, as is a date after `not_after`."""
        try:
            parsed = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail(INVALID_DATE, path, f"{what} must be a full date", value=value, expected="YYYY-MM-DD")
            return None
        if not_after is not None and parsed > not_after:
            self.fail(FUTURE_DATE, path, f"{what} is in the future", value=value,
                      expected=f"a date not after {not_after.isoformat()}")
            return None
        return parsed

    def datetime_value(self, value: Any, path: str, *, what: str) -> datetime | None:
        """A FHIR dateTime or instant; a bare date is read as midnight (UK local, like other naive times)."""
        try:
            if isinstance(value, str) and len(value) == 10:
                return datetime.combine(date.fromisoformat(value), datetime.min.time())
            if isinstance(value, str) and "T" in value:
                return datetime.fromisoformat(value)
        except ValueError:
            pass
        self.fail(INVALID_DATETIME, path, f"{what} must be a FHIR dateTime", value=value,
                  expected="YYYY-MM-DDThh:mm:ss+zz:zz")
        return None


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - int and Decimal always convert
        return None
    return number if number.is_finite() else None
