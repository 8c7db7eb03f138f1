"""FHIRPath value semantics for the fast compiler: equality, ordering (numbers, strings, dates and times with their
precision and offsets, quantities of one unit), `toString()`, and `htmlChecks()` for narrative.

Ordering follows the FHIRPath specification where fhirpathpy (without type information at run time) compares
dateTime strings as text: `2026-01-01T09:30:00Z >= 2026-01-01T10:00:00+01:00` is true here, and values of different
precision that agree as far as both go (`2026-01-01` against `2026-01-01T09:30:00Z`) compare as empty.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

PRIMITIVE = (str, bool, int, float, Decimal)
NUMBER = (int, float, Decimal)

_TEMPORAL = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?"
                       r"(Z|[+-]\d{2}:\d{2})?)?)?)?")


class EvaluationError(Exception):
    """FHIRPath signals an error (e.g. a collection where a single value is needed): the invariant is not evaluated."""


def number(value: Any) -> Any:
    """Floats as Decimals (as written), so that a float and a Decimal of the same value compare equal."""
    return Decimal(repr(value)) if type(value) is float else value


def same(a: Any, b: Any) -> bool:
    """FHIRPath equality of two items (true is not 1; 0.4 from json.loads is 0.4 parsed as Decimal)."""
    if type(a) is bool or type(b) is bool:
        return a is b
    if type(a) is float or type(b) is float:
        return bool(number(a) == number(b))
    return bool(a == b)


def _temporal(text: str, match: re.Match[str] | None = None) -> tuple[list[Any], bool] | None:
    """The components of a date/dateTime/instant (year, month, day, then time in UTC), and whether it has a time."""
    match = match or _TEMPORAL.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    if hour is None:
        return [int(p) for p in (year, month, day) if p is not None], False
    seconds = Decimal(second) if second is not None else None
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), tzinfo=UTC)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        moment -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    parts: list[Any] = [moment.year, moment.month, moment.day, moment.hour, moment.minute]
    if seconds is not None:
        parts.append(seconds)
    return parts, True


def _order_temporal(a: str, b: str, a_match: re.Match[str] | None = None, b_match: re.Match[str] | None = None
                    ) -> int | None:
    """-1, 0, 1, or None when the precisions differ and the common components are equal."""
    left, right = _temporal(a, a_match), _temporal(b, b_match)
    if left is None or right is None:
        raise EvaluationError("not a date or time")
    for x, y in zip(left[0], right[0], strict=False):
        if x != y:
            return -1 if x < y else 1
    return 0 if len(left[0]) == len(right[0]) else None


def _unit(quantity: dict[str, Any]) -> Any:
    return (quantity.get("system"), quantity.get("code")) if "code" in quantity else quantity.get("unit")


def order(a: Any, b: Any) -> int | None:
    """Compare two single values for <, <=, >, >=: -1, 0, 1, or None (empty: not comparable as far as known)."""
    if type(a) is bool or type(b) is bool:
        raise EvaluationError("booleans are not ordered")
    if isinstance(a, NUMBER) and isinstance(b, NUMBER):
        a, b = number(a), number(b)
        return int(a > b) - int(a < b)
    if isinstance(a, str) and isinstance(b, str):
        if len(a) == len(b) and len(a) <= 10:
            # Dates of one precision (YYYY, YYYY-MM, YYYY-MM-DD, no time fits in 10 characters) are fixed-width
            # digits, which order as text; anything else that is not a date orders as text too.
            return (a > b) - (a < b)
        a_match = _TEMPORAL.fullmatch(a)
        b_match = _TEMPORAL.fullmatch(b) if a_match else None
        if a_match and b_match:
            return _order_temporal(a, b, a_match, b_match)
        return (a > b) - (a < b)
    if isinstance(a, dict) and isinstance(b, dict):
        x, y = a.get("value"), b.get("value")
        if not isinstance(x, NUMBER) or not isinstance(y, NUMBER) or type(x) is bool or type(y) is bool:
            return None
        if _unit(a) != _unit(b):
            return None  # different (or differently coded) units: not converted offline
        x, y = number(x), number(y)
        return int(x > y) - int(x < y)
    raise EvaluationError(f"cannot compare {type(a).__name__} with {type(b).__name__}")


def to_string(value: Any) -> str | None:
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, NUMBER):
        return str(value)
    return None


# --- narrative (txt-1, txt-2) -----------------------------------------------------------------------------------------
_FORBIDDEN_ELEMENTS = frozenset({
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input", "button",
    "select", "textarea", "link", "meta", "base", "head", "body", "html", "title",
})


class _Narrative(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.first: str | None = None
        self.allowed = True
        self.content = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.first is None:
            self.first = tag
        if tag in _FORBIDDEN_ELEMENTS:
            self.allowed = False
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.allowed = False
        if tag == "img":
            self.content = True

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.content = True


def html_checks(div: Any) -> bool:
    """The narrative is an XHTML div of basic formatting (no scripts, forms, frames or event handlers) with some
    non-whitespace content or an image."""
    if not isinstance(div, str):
        return False
    parser = _Narrative()
    try:
        parser.feed(div)
        parser.close()
    except Exception:  # noqa: BLE001 - HTMLParser raises plain exceptions on broken markup
        return False
    return parser.first == "div" and parser.allowed and parser.content
