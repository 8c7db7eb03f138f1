"""Dosage.timing back to a JAC frequency code, the inverse of `gateway.fhir.dosage.parse_frequency`.

A code is returned only when `parse_frequency` turns it into exactly the timing received: what a code means stays
defined in one place, and a timing with anything more (bounds, times of day, a range) is never squeezed into a code
that would drop it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.fhir.dosage import parse_frequency

# The fixed codes of the JAC spec (shared/specs/jac-homecare-export.md, "Frequency codes"); `EVERY n DAYS`,
# `EVERY n WEEKS` and `PRN` are built below.
_FIXED_CODES = ("OD", "BD", "TDS", "QDS", "OW", "STAT")
_EVERY_UNITS = {"d": "DAYS", "wk": "WEEKS"}
_BIG = 10**6  # no code has numbers this size; a bigger "1E+5000" stays a Decimal


def frequency_code(dosage: dict[str, Any]) -> str | None:
    """`{"frequency": 2, "period": 1, "periodUnit": "d"}` → `BD`; with asNeededBoolean → `BD PRN`; else None."""
    as_needed = dosage.get("asNeededBoolean") is True
    timing = dosage.get("timing")
    if timing is None:
        return "PRN" if as_needed else None
    if not isinstance(timing, dict) or set(timing) != {"repeat"} or not isinstance(timing["repeat"], dict):
        return None
    repeat = {key: _plain(value) for key, value in timing["repeat"].items()}
    for code in _candidates(repeat):
        meaning = parse_frequency(code)
        if meaning is not None and meaning.repeat == repeat:
            if as_needed:
                return None if code == "STAT" else f"{code} PRN"
            return code
    return None


def _candidates(repeat: dict[str, Any]) -> list[str]:
    codes = list(_FIXED_CODES)
    period, unit = repeat.get("period"), repeat.get("periodUnit")
    unit = unit if isinstance(unit, str) else None
    if isinstance(period, int) and not isinstance(period, bool) and 1 < period < _BIG and unit in _EVERY_UNITS:
        codes.append(f"EVERY {period} {_EVERY_UNITS[unit]}")
    return codes


def _plain(value: Any) -> Any:
    """JSON numbers as `parse_frequency` writes them: whole Decimals (`1.0`) as int."""
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value() and abs(value) < _BIG:
        return int(value)
    return value
