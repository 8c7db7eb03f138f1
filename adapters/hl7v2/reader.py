"""Typed access to one segment's fields, reusing the JAC field checks with HL7 locations and HL7 date formats."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache

from adapters.hl7v2 import issues as codes
from adapters.hl7v2 import profile
from adapters.hl7v2.er7 import Segment
from adapters.jac import issues as jac_codes
from adapters.jac.fields import UK, RowReader
from gateway.errors import Issue, Severity

_PATH_RE = re.compile(r"[A-Z0-9]{3}-([0-9]+)(?:\[([0-9]+)\])?(?:\.([0-9]+))?(?:\.([0-9]+))?")
# HL7 DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]
_DTM_RE = re.compile(
    r"([0-9]{4})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:\.[0-9]{1,4})?)?)?)?)?)?"
    r"(?:([+-])([0-9]{2})([0-9]{2}))?")
_DATE_PRECISION, _MINUTE_PRECISION = 3, 5


@dataclass(frozen=True, slots=True)
class Dtm:
    """An HL7 date/time as sent: the local reading, its UTC offset when one was given, and how many parts."""

    local: datetime
    offset: timedelta | None
    parts: int  # 1 = year only ... 6 = down to the second


def parse_dtm(value: str) -> Dtm | str:
    """The date/time in `value`, or why it is not one: "format" or "calendar"."""
    m = _DTM_RE.fullmatch(value)
    if m is None:
        return "format"
    numbers = [int(g) for g in m.groups()[:6] if g is not None]
    # A year alone, or a month, reads as its first day; a missing time as midnight.
    year, month, day, hour, minute, second = numbers + [1] * (3 - len(numbers)) + [0] * min(3, 6 - len(numbers))
    try:
        local = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return "calendar"
    offset = None
    if m[7]:
        hours, minutes = int(m[8]), int(m[9])
        if hours > 14 or minutes > 59:
            return "calendar"
        offset = (1 if m[7] == "+" else -1) * timedelta(hours=hours, minutes=minutes)
    return Dtm(local, offset, len(numbers))


@cache
def _indices(path: str) -> tuple[int, int, int, int]:
    m = _PATH_RE.fullmatch(path)
    if m is None:
        raise KeyError(path)
    field, repetition, component, subcomponent = (int(g) if g else 1 for g in m.groups())
    return field, repetition, component, subcomponent


class SegmentValues(Mapping[str, str]):
    """The decoded, stripped values of one segment by location path: `PID-3[2].1`, `RXE-3` (= `RXE-3[1].1`)."""

    __slots__ = ("_cache", "_segment")

    def __init__(self, segment: Segment) -> None:
        self._segment = segment
        self._cache: dict[str, str] = {}

    def __getitem__(self, path: str) -> str:
        value = self._cache.get(path)
        if value is None:
            value = self._cache[path] = self._segment.value(*_indices(path)).strip()
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)


class FieldReader(RowReader):
    """The JAC checks (`text`, `code`, `decimal`, `nhs_number`, `snomed`, `ods`, `postcode`, ...) on one segment.

    Columns are location paths (`PID-3[1].1`); each issue names the segment's number in the message and the path.
    Dates and times are read in HL7 formats.
    """

    __slots__ = ("segment",)

    def __init__(self, segment: Segment, issues: list[Issue]) -> None:
        super().__init__(SegmentValues(segment), segment.number, issues)
        self.segment = segment

    def fail(self, code: str, column: str, message: str, expected: str | None = None) -> None:
        self.report(code, column, message, value=self.values[column], expected=expected)

    def report(self, code: str, path: str, message: str, *, value: str | None, expected: str | None = None,
               severity: Severity = "error") -> None:
        """An issue at `path` of this segment whose value is not one component (a whole field, a repetition)."""
        self.issues.append(codes.located(code, self.line, path, message, value=value,
                                         expected=expected or profile.expected(path), severity=severity))

    def either(self, first: str, second: str) -> str | None:
        """The first non-blank of two components (a coded field's identifier or text)."""
        return self.values[first] or self.values[second] or None

    def integer(self, column: str, low: int, high: int | None = None, *, required: bool = True) -> int | None:
        # The JAC check reads the format (digits only, so never below 0); the range is quoted from this profile.
        number = super().integer(column, 0, required=required)
        if number is not None and (number < low or (high is not None and number > high)):
            self.fail(jac_codes.OUT_OF_RANGE, column,
                      f"{self.values[column]} is out of range ({profile.expected(column)})")
            return None
        return number

    def date(self, column: str, *, required: bool = False, today: date | None = None) -> date | None:
        """A date YYYYMMDD (a longer HL7 date/time is read for its date); with `today`, a later date is refused."""
        read = self._dtm(column, _DATE_PRECISION, jac_codes.INVALID_DATE, "date", "YYYYMMDD", required=required)
        if read is None:
            return None
        value, parsed = read
        day = parsed.local.date()
        if today is not None and day > today:
            self.fail(jac_codes.FUTURE_DATE, column, f"{value} is in the future",
                      f"a date not after today ({today:%Y%m%d})")
            return None
        return day

    def timestamp(self, column: str) -> datetime | None:
        """A mandatory date and time to the minute, aware: its own offset, else UK local time (GMT or BST)."""
        read = self._dtm(column, _MINUTE_PRECISION, jac_codes.INVALID_DATETIME, "date and time", "YYYYMMDDHHMM[SS]",
                         required=True)
        if read is None:
            return None
        value, parsed = read
        if parsed.offset is not None:
            return parsed.local.replace(tzinfo=timezone(parsed.offset))
        local = parsed.local.replace(tzinfo=UK)
        # Only the hour the clocks skip in March fails the round trip through UTC.
        if local.astimezone(UTC).astimezone(UK).replace(tzinfo=None) != parsed.local:
            self.fail(jac_codes.INVALID_DATETIME, column, f"{value} does not exist in UK local time "
                      "(the clocks go forward past it)", "a time that exists in UK local time, or an offset")
            return None
        return local

    def _dtm(
        self, column: str, parts: int, code: str, what: str, form: str, *, required: bool
    ) -> tuple[str, Dtm] | None:
        """The value and its reading, at least `parts` parts long; else None, the problem recorded."""
        value = self.text(column, required=required)
        if value is None:
            return None
        parsed = parse_dtm(value)
        if isinstance(parsed, str) or parsed.parts < parts:
            reason = f"a calendar {what}" if parsed == "calendar" else f"a {what} in the form {form}"
            self.fail(code, column, f"'{value}' is not {reason}")
            return None
        return value, parsed
