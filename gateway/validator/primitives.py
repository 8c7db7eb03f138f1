"""FHIR R4 primitive types in JSON: the JSON type each needs and the regular expression from the specification."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, Final

# Returns None when the value is valid, else what is wrong with it.
PrimitiveCheck = Callable[[Any], str | None]

_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_TZ = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_DAY = r"-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
PATTERNS: Final[dict[str, str]] = {
    "string": r"[ \r\n\t\S]+",
    "code": r"[^\s]+(\s[^\s]+)*",
    "id": r"[A-Za-z0-9\-\.]{1,64}",
    "uri": r"\S*",
    "url": r"\S*",
    "canonical": r"\S*",
    "oid": r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+",
    "uuid": r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "markdown": r"\s*(\S|\s)*",
    "base64Binary": r"(\s*([0-9a-zA-Z\+/=]){4}\s*)+",
    "date": _YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?",
    "dateTime": _YEAR + r"(" + _DAY + r"(T" + _TIME + _TZ + r")?)?)?",
    "instant": _YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T" + _TIME + _TZ,
    "time": _TIME,
    "xhtml": r"\s*<div[\s>][\s\S]*",
}
_INT32 = (-2147483648, 2147483647)
_MAX_STRING = 1024 * 1024


def _string_check(type_code: str) -> PrimitiveCheck:
    matches = re.compile(PATTERNS[type_code]).fullmatch
    dated = type_code in ("date", "dateTime", "instant")

    def check(value: Any) -> str | None:
        if not dated and type(value) is str and value and len(value) <= _MAX_STRING and matches(value) is not None:
            return None
        if type(value) is not str:
            return f"a FHIR {type_code} must be a JSON string"
        if not value:
            return "empty strings are not valid FHIR values (leave the element out)"
        if len(value) > _MAX_STRING:
            return f"a FHIR {type_code} is at most 1 MiB"
        if matches(value) is None:
            return f"not a valid FHIR {type_code}"
        if dated and len(value) >= 10:
            try:
                date.fromisoformat(value[:10])
            except ValueError:
                return f"not a valid FHIR {type_code}: no such calendar date"
        return None

    return check


def _boolean(value: Any) -> str | None:
    return None if type(value) is bool else "a FHIR boolean must be JSON true or false"


def _decimal(value: Any) -> str | None:
    kind = type(value)
    if kind is int:
        return None
    if kind is float or kind is Decimal:
        return None if value == value and abs(value) != float("inf") else "not a finite decimal"
    return "a FHIR decimal must be a JSON number"


def _integer_check(type_code: str, low: int) -> PrimitiveCheck:
    def check(value: Any) -> str | None:
        if type(value) is not int:
            if type(value) is Decimal and value == value.to_integral_value() and "." not in str(value):
                value = int(value)
            else:
                return f"a FHIR {type_code} must be a JSON integer"
        if value < low or value > _INT32[1]:
            return f"a FHIR {type_code} must be between {low} and {_INT32[1]}"
        return None

    return check


CHECKS: Final[dict[str, PrimitiveCheck]] = {
    **{code: _string_check(code) for code in PATTERNS},
    "boolean": _boolean,
    "decimal": _decimal,
    "integer": _integer_check("integer", _INT32[0]),
    "positiveInt": _integer_check("positiveInt", 1),
    "unsignedInt": _integer_check("unsignedInt", 0),
}


# Strings the walker accepts without calling the check (str.isprintable() admits no whitespace but the space, so
# these imply the regular expressions above): 1 any printable text (string, markdown); 2 printable without spaces
# (uri, url, canonical); 3 printable, spaces only single and inside (code). 0: always call the check.
TEXT_ANY, TEXT_NO_SPACE, TEXT_CODE = 1, 2, 3
TEXT_KINDS: Final[dict[str, int]] = {
    "string": TEXT_ANY, "markdown": TEXT_ANY, "uri": TEXT_NO_SPACE, "url": TEXT_NO_SPACE, "canonical": TEXT_NO_SPACE,
    "code": TEXT_CODE,
}
MAX_STRING: Final = _MAX_STRING


def plainly_valid(kind: int, value: str) -> bool:
    """The fast path of a text check (see TEXT_KINDS); False means "call the check", not "invalid"."""
    if not value or not value.isprintable() or len(value) > _MAX_STRING:
        return False
    if kind == TEXT_ANY:
        return True
    if kind == TEXT_NO_SPACE:
        return " " not in value
    return value[0] != " " and value[-1] != " " and "  " not in value


def is_primitive(type_code: str) -> bool:
    """FHIR primitive type codes start with a lower-case letter (and the FHIRPath System types are not used)."""
    return type_code[:1].islower()
