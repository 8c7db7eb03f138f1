"""RFC 8785 (JCS) canonical JSON of a bundle whose numbers are `Decimal`s, with no precision silently lost.

JCS defines a number's canonical text as the ECMAScript rendering of the IEEE 754 double nearest to it: every JCS
implementation (JavaScript, Java, Go, the `rfc8785` package used here) parses numbers as doubles. So a FHIR decimal
is signed as a double, and a verifier in any language reaches the same bytes; the catch is a decimal that no double
equals (more than 15-17 significant digits, or beyond a double's range): the double would stand for a nearby value
and a change in the lost digits would go unnoticed. Such a value is refused (`CanonicalisationError`, located),
never rounded. A Decimal is accepted when the shortest text of its double equals it in value, so `0.4`, `40`,
`0.10`, `1E+1` sign as `0.4`, `40`, `0.1`, `10`; trailing zeros are not signed (`40.0` and `40` are one value).
Integers must lie within ±(2^53 - 1), the I-JSON range.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import rfc8785

from gateway.signing.exceptions import CanonicalisationError

_INT_LIMIT = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of a JSON value made of dicts, lists, str, bool, None, int, float and Decimal."""
    unusual: list[bool] = []
    plain = _jcs_value(value, "$", unusual)
    if not unusual:
        # The common case, about ten times faster than rfc8785: ASCII keys sort the same by code point as by
        # UTF-16 unit, Python escapes strings exactly as ECMAScript does, integral numbers are ints, and other
        # doubles in [1e-4, 1e16) print the same shortest digits in the same fixed notation.
        text = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 names the problem
    try:
        return rfc8785.dumps(plain)
    except rfc8785.CanonicalizationError as exc:  # e.g. a lone surrogate in a string
        raise CanonicalisationError("$", str(exc)) from exc


def exact_double(value: Decimal) -> float | None:
    """The double equal in value to `value`, or None when there is none."""
    if not value.is_finite():
        return None
    as_float = float(value)
    if math.isinf(as_float) or Decimal(repr(as_float)) != value:
        return None
    return as_float


def _number(value: float, unusual: list[bool]) -> float | int:
    """Integral doubles become ints (JCS prints 40, not 40.0); note values whose notation Python and JCS differ on."""
    if value.is_integer():
        if abs(value) <= _INT_LIMIT:
            return int(value)
        unusual.append(True)  # Python prints 2.0**53 as 9007199254740992.0, JCS without the ".0"
    elif not 1e-4 <= abs(value) < 1e16:
        unusual.append(True)
    return value


def _jcs_value(value: Any, path: str, unusual: list[bool]) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if abs(value) > _INT_LIMIT:
            raise CanonicalisationError(path, f"integer {value} is beyond ±(2^53 - 1), the I-JSON range")
        return value
    if isinstance(value, Decimal):
        as_float = exact_double(value)
        if as_float is None:
            raise CanonicalisationError(path, f"{value} has no exact IEEE 754 double form, which JCS numbers are")
        return _number(as_float, unusual)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalisationError(path, f"{value} is not a JSON number")
        return _number(value, unusual)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalisationError(path, f"object key {key!r} is not a string")
            if not key.isascii():
                unusual.append(True)  # UTF-16 order may differ from code-point order
            out[key] = _jcs_value(item, f"{path}.{key}", unusual)
        return out
    if isinstance(value, list | tuple):
        return [_jcs_value(item, f"{path}[{i}]", unusual) for i, item in enumerate(value)]
    raise CanonicalisationError(path, f"{type(value).__name__} is not a JSON value")
