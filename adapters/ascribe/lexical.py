"""The lexical forms of the XSD types the export uses, and their exact Python values (Decimal, never float).

Each form accepts exactly what the schema accepts, so a value the schema lets through is never refused after it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

INTEGER_RE = re.compile(r"[+-]?[0-9]+")  # xs:integer
DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")  # xs:decimal: no exponent, NaN or Infinity
DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?")
DATETIME_RE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})T(?P<hour>[0-9]{2}):(?P<rest>[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?)"
    r"(?P<offset>Z|[+-][0-9]{2}:[0-9]{2})"
)
# Larger integers are no version, line or count a trust would send; int() of a huge string is also slow.
MAX_INTEGER_DIGITS = 18


def to_decimal(text: str) -> Decimal:
    """The exact value of an xs:decimal that matched DECIMAL_RE (`.5` → 0.5, `-0` → 0)."""
    number = Decimal(text)
    return number.copy_abs() if number.is_zero() else number


def to_date(match: re.Match[str]) -> date:
    """The date of a DATE_RE match; a time zone on a date says nothing about the day, so it is dropped.

    Raises ValueError when it is not a calendar date.
    """
    return date(int(match[1]), int(match[2]), int(match[3]))


def to_datetime(match: re.Match[str]) -> datetime:
    """The aware datetime of a DATETIME_RE match, keeping its offset; `24:00:00` is the next day's midnight.

    Raises ValueError when it is not a calendar date and time.
    """
    hour, extra = match["hour"], timedelta(0)
    if hour == "24":
        if match["rest"].strip("0:.") != "":
            raise ValueError("24:00:00 is the only time in hour 24")
        hour, extra = "00", timedelta(days=1)
    return datetime.fromisoformat(f"{match['date']}T{hour}:{match['rest']}{match['offset']}") + extra
