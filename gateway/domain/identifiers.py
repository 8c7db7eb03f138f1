"""Identifier checks (../shared/reference/README.md): NHS number, SNOMED CT / dm+d, EPS short-form id, ODS, postcode."""

from __future__ import annotations

import re
import secrets

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_MOD37_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+"
_ODS_RE = re.compile(r"[A-Z0-9]{3}|[A-Z0-9]{5}|[A-Z0-9]{6}")
_SHORT_FORM_RE = re.compile(r"[0-9A-F]{6}-[0-9A-Z]{6}-[0-9A-F]{5}[0-9A-Z+]")
# BS 7666 outward + inward code, plus the GIR 0AA special case.
_POSTCODE_RE = re.compile(
    r"GIR0AA|[A-PR-UWYZ]([0-9][0-9A-HJKPS-UW]?|[A-HK-Y][0-9][0-9ABEHMNPRV-Y]?)[0-9][ABD-HJLNP-UW-Z]{2}"
)
_PRESCRIBER_CODE_RES = {
    "GMC": re.compile(r"[0-9]{7}"),
    "NMC": re.compile(r"[0-9]{2}[A-Z][0-9]{4}[A-Z]"),
    "GPHC": re.compile(r"[0-9]{7}"),
    "HCPC": re.compile(r"[A-Z]{2}[0-9]{5,6}"),
    "PROFESSIONAL": re.compile(r"\S{1,35}"),
}
PRESCRIBER_CODE_FORMATS = {
    "GMC": "7 digits",
    "NMC": "2 digits, 1 letter, 4 digits, 1 letter (e.g. 12A3456E)",
    "GPHC": "7 digits",
    "HCPC": "2-letter profession prefix and 5 or 6 digits (e.g. PH123456)",
    "PROFESSIONAL": "a professional code of up to 35 characters",
}


def normalise_nhs_number(value: str) -> str:
    return value.replace(" ", "").replace("-", "")


def is_valid_nhs_number(value: str) -> bool:
    """Modulus 11: weights 10..2 on the first nine digits; 11 becomes 0 and 10 is invalid."""
    digits = normalise_nhs_number(value)
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def verhoeff_valid(number: str) -> bool:
    c = 0
    for i, ch in enumerate(reversed(number)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def is_valid_snomed_id(value: str) -> bool:
    """A SNOMED CT concept id (dm+d VMP/AMP codes are these): 6-18 digits, Verhoeff check digit."""
    return 6 <= len(value) <= 18 and value.isascii() and value.isdigit() and value[0] != "0" and verhoeff_valid(value)


def mod37_2_check_character(body: str) -> str:
    """ISO/IEC 7064 MOD 37-2 check character over the characters of `body` (dashes ignored)."""
    total = 0
    for ch in body.replace("-", ""):
        total = ((total + _MOD37_ALPHABET.index(ch)) * 2) % 37
    return _MOD37_ALPHABET[(38 - total) % 37]


def is_valid_short_form_id(value: str) -> bool:
    if not _SHORT_FORM_RE.fullmatch(value):
        return False
    return mod37_2_check_character(value[:-1]) == value[-1]


def new_short_form_id(prescriber_ods: str, sequence: int | None = None) -> str:
    """A fresh EPS short-form prescription id: 6 random hex, ODS padded to 6, 5 hex sequence, check character."""
    org = prescriber_ods.upper().rjust(6, "0")[:6]
    seq = secrets.randbelow(16**5) if sequence is None else sequence % 16**5
    body = f"{secrets.token_hex(3).upper()}-{org}-{seq:05X}"
    return body + mod37_2_check_character(body)


def is_valid_ods_code(value: str) -> bool:
    return bool(_ODS_RE.fullmatch(value))


def normalise_postcode(value: str) -> str | None:
    """`so166yd` → `SO16 6YD`; None when it is not a UK postcode."""
    compact = value.replace(" ", "").upper()
    if not _POSTCODE_RE.fullmatch(compact):
        return None
    return f"{compact[:-3]} {compact[-3:]}"


def is_valid_prescriber_code(code_type: str, value: str) -> bool:
    pattern = _PRESCRIBER_CODE_RES.get(code_type.upper())
    return bool(pattern and pattern.fullmatch(value))


def nhs_number_check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits, or None when no valid number starts with them."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return None if check == 10 else check


def bad_nhs_check_digit(value: str) -> str:
    """`value` with its last (check) digit moved on by one: a number that fails Modulus 11, for tests."""
    return value[:-1] + str((int(value[-1]) + 1) % 10)
