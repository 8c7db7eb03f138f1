"""NHS identifiers as the suites check and make them, restated from their specifications.

The EPS short-form prescription id (`XXXXXX-XXXXXX-XXXXXC`: 6 hex, the prescriber's ODS padded to 6, 5 hex, and
an ISO/IEC 7064 MOD 37-2 check character; NHS Digital, "EPS prescription identifiers") and the NHS number's
Modulus 11 check digit (NHS Data Dictionary, "NHS Number").
"""

from __future__ import annotations

import re

PRESCRIPTION_ORDER_NUMBER = "https://fhir.nhs.uk/Id/prescription-order-number"
"""The identifier system of the short-form id (EPS)."""

_SHORT_FORM = re.compile(r"[0-9A-F]{6}-[0-9A-Z]{6}-[0-9A-F]{5}[0-9A-Z+]")
_MOD37 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+"


def mod37_2(body: str) -> str:
    """The ISO/IEC 7064 MOD 37-2 check character of `body` (dashes ignored)."""
    total = 0
    for ch in body.replace("-", ""):
        total = ((total + _MOD37.index(ch)) * 2) % 37
    return _MOD37[(38 - total) % 37]


def is_valid_short_form_id(value: str) -> bool:
    return bool(_SHORT_FORM.fullmatch(value)) and mod37_2(value[:-1]) == value[-1]


def nhs_check_digit(first_nine: str) -> int | None:
    """Modulus 11: weights 10 down to 2 over the first nine digits; 11 less the remainder (11 becomes 0); a result
    of 10 means no valid NHS number starts with these nine digits (None)."""
    weighted = sum(int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True))
    check = (11 - weighted % 11) % 11
    return None if check == 10 else check


def bad_nhs_check_digit(value: str) -> str:
    """`value` with its last (check) digit moved on by one: a number that fails Modulus 11."""
    return value[:-1] + str((int(value[-1]) + 1) % 10)
