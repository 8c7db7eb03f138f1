"""Cell conversions: each reads one column of one row, returns the typed value, or records a located issue."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache, lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

from adapters.jac import issues as codes
from adapters.jac.columns import EXPECTED
from gateway.domain.identifiers import (
    PRESCRIBER_CODE_FORMATS,
    is_valid_nhs_number,
    is_valid_ods_code,
    is_valid_prescriber_code,
    is_valid_snomed_id,
    normalise_postcode,
)
from gateway.errors import Issue

UK = ZoneInfo("Europe/London")
E = TypeVar("E", bound=StrEnum)

_DATE_RE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_DATETIME_RE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4}) ([0-9]{2}):([0-9]{2})")
_INTEGER_RE = re.compile(r"[0-9]+")
# Plain decimals only: no sign, exponent, NaN/Infinity, thousands separator or decimal comma.
_DECIMAL_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


# The same few dm+d codes recur on thousands of rows of one export.
_is_snomed_id = lru_cache(maxsize=4096)(is_valid_snomed_id)


@cache
def _members(enum: type[E]) -> dict[str, E]:
    return {member.value: member for member in enum}


class RowReader:
    """Typed access to the cells of one record; every problem becomes an Issue naming its line and column."""

    __slots__ = ("issues", "line", "values")

    def __init__(self, values: Mapping[str, str], line: int, issues: list[Issue]) -> None:
        self.values = values
        self.line = line
        self.issues = issues

    def fail(self, code: str, column: str, message: str, expected: str | None = None) -> None:
        value = self.values[column]
        self.issues.append(codes.field_issue(code, self.line, column, value, expected or EXPECTED[column],
                                             f"line {self.line}, {column}: {message}"))

    def missing(self, column: str, why: str = "is mandatory") -> None:
        self.fail(codes.MISSING_VALUE, column, f"{column} {why} but is blank")

    def text(self, column: str, *, required: bool = False, why: str = "is mandatory") -> str | None:
        value = self.values[column]
        if value:
            return value
        if required:
            self.missing(column, why)
        return None

    def code(self, column: str, enum: type[E], *, required: bool = True) -> E | None:
        """A member of a code list, spelt exactly as the spec lists it."""
        value = self.text(column, required=required)
        if value is None:
            return None
        member = _members(enum).get(value)
        if member is None:
            allowed = ", ".join(m.value for m in enum)
            self.fail(codes.INVALID_CODE, column, f"'{value}' is not one of {allowed}")
        return member

    def date(self, column: str, *, required: bool = False, today: date | None = None) -> date | None:
        """A dd/mm/yyyy date; with `today`, a date after it is refused."""
        value = self.text(column, required=required)
        if value is None:
            return None
        m = _DATE_RE.fullmatch(value)
        if m is None:
            self.fail(codes.INVALID_DATE, column, f"'{value}' is not a date in the form dd/mm/yyyy")
            return None
        try:
            parsed = date(int(m[3]), int(m[2]), int(m[1]))
        except ValueError:
            self.fail(codes.INVALID_DATE, column, f"{value} is not a calendar date")
            return None
        if today is not None and parsed > today:
            self.fail(codes.FUTURE_DATE, column, f"{value} is in the future",
                      f"a date not after today ({today:%d/%m/%Y})")
            return None
        return parsed

    def uk_datetime(self, column: str) -> datetime | None:
        """A mandatory dd/mm/yyyy HH:MM in UK local time, as an aware datetime (GMT or BST as the date requires)."""
        value = self.text(column, required=True)
        if value is None:
            return None
        m = _DATETIME_RE.fullmatch(value)
        if m is None:
            self.fail(codes.INVALID_DATETIME, column, f"'{value}' is not a date and time in the form dd/mm/yyyy HH:MM")
            return None
        try:
            # fold=0: in the repeated hour when clocks go back, the earlier (BST) reading is taken.
            local = datetime(int(m[3]), int(m[2]), int(m[1]), int(m[4]), int(m[5]), tzinfo=UK)
        except ValueError:
            self.fail(codes.INVALID_DATETIME, column, f"{value} is not a calendar date and time")
            return None
        # Only the last Sunday of March has a missing hour; the round trip through UTC finds it.
        if local.month == 3 and local.astimezone(UTC).astimezone(UK).replace(tzinfo=None) != local.replace(tzinfo=None):
            self.fail(codes.INVALID_DATETIME, column, f"{value} does not exist in UK local time "
                      "(the clocks go forward past it)", "a time that exists in UK local time")
            return None
        return local

    def integer(self, column: str, low: int, high: int | None = None, *, required: bool = True) -> int | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        if _INTEGER_RE.fullmatch(value) is None:
            self.fail(codes.INVALID_INTEGER, column, f"'{value}' is not a whole number")
            return None
        number = int(value)
        if number < low or (high is not None and number > high):
            self.fail(codes.OUT_OF_RANGE, column, f"{value} is out of range ({EXPECTED[column]})")
            return None
        return number

    def decimal(
        self, column: str, *, positive: bool = False, required: bool = True, why: str = "is mandatory"
    ) -> Decimal | None:
        """An exact Decimal from plain `123.45` notation: never through float."""
        value = self.text(column, required=required, why=why)
        if value is None:
            return None
        if _DECIMAL_RE.fullmatch(value) is None:
            self.fail(codes.INVALID_DECIMAL, column, f"'{value}' is not a decimal number written like 0.4")
            return None
        number = Decimal(value)
        if positive and number <= 0:
            self.fail(codes.OUT_OF_RANGE, column, f"{value} is not greater than 0")
            return None
        return number

    def nhs_number(self, column: str) -> str | None:
        value = self.text(column, required=True)
        if value is None:
            return None
        digits = value.replace(" ", "")
        if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
            self.fail(codes.INVALID_NHS_NUMBER, column, f"'{value}' is not 10 digits")
            return None
        if not is_valid_nhs_number(digits):
            self.fail(codes.INVALID_NHS_NUMBER, column, f"'{value}' fails the NHS number Modulus 11 check")
            return None
        return digits

    def snomed(self, column: str, code: str, *, required: bool) -> str | None:
        value = self.text(column, required=required)
        if value is None or _is_snomed_id(value):
            return value
        self.fail(code, column, f"'{value}' is not a SNOMED CT concept id (6-18 digits with a Verhoeff check digit)")
        return None

    def ods(self, column: str, *, lengths: tuple[int, ...] = (3, 5, 6), required: bool = False) -> str | None:
        value = self.text(column, required=required)
        if value is None or (len(value) in lengths and is_valid_ods_code(value)):
            return value
        self.fail(codes.INVALID_ODS_CODE, column, f"'{value}' is not an ODS code")
        return None

    def postcode(self, column: str, *, required: bool = True, why: str = "is mandatory") -> str | None:
        value = self.values[column]
        if not value:
            if required:
                self.missing(column, why)
            return None
        normalised = normalise_postcode(value)
        if normalised is None:
            self.fail(codes.INVALID_POSTCODE, column, f"'{value}' is not a UK postcode")
        return normalised

    def prescriber_code(self, column: str, code_type: str | None) -> str | None:
        """The registration number, checked against the format of its register when the register is known."""
        value = self.text(column, required=True)
        if value is None or code_type is None or is_valid_prescriber_code(code_type, value):
            return value
        fmt = PRESCRIBER_CODE_FORMATS[code_type]
        self.fail(codes.INVALID_PRESCRIBER_CODE, column, f"'{value}' is not a {code_type} number ({fmt})",
                  f"{code_type} number: {fmt}")
        return None

    def pattern(self, column: str, regex: re.Pattern[str], *, required: bool = True) -> str | None:
        value = self.text(column, required=required)
        if value is None or regex.fullmatch(value):
            return value
        self.fail(codes.INVALID_FORMAT, column, f"'{value}' is not in the expected format")
        return None

    def email(self, column: str) -> str | None:
        return self.pattern(column, _EMAIL_RE, required=False)

    def max_length(self, column: str, limit: int) -> str | None:
        value = self.text(column)
        if value is None or len(value) <= limit:
            return value
        self.fail(codes.TOO_LONG, column, f"'{value}' is {len(value)} characters long, more than {limit}")
        return None
