"""Exact money: pounds written as text become whole pence; quantities and VAT rates stay exact decimals.

Nothing here uses floats. A line's net is quantity × unit price and its VAT is net × rate, each rounded half up
to the penny (HMRC lets VAT be rounded to the nearest penny per line); an amount written with more than two
decimal places, a negative amount or a non-number is refused by the caller with a located error.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

PENNY: Final = Decimal(1)
MAX_PENCE: Final = 10**13  # £100bn: anything larger is a typo, and it keeps sums inside 64-bit columns
MAX_QUANTITY: Final = Decimal(10**9)


def decimal_or_none(text: object) -> Decimal | None:
    """The exact decimal written in `text` (a str or an exact JSON number), or None when it is not one."""
    if isinstance(text, bool) or not isinstance(text, str | int | Decimal):
        return None
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def pence_or_none(pounds: object) -> int | None:
    """Whole pence from pounds with at most two decimal places, not negative; None when not such an amount."""
    value = decimal_or_none(pounds)
    if value is None or value < 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
        return None
    pence = int(value * 100)
    return pence if pence <= MAX_PENCE else None


def quantity_or_none(text: object) -> Decimal | None:
    """A positive quantity with at most four decimal places (dm+d quantities are decimals, e.g. 0.5 ml)."""
    value = decimal_or_none(text)
    if value is None or value <= 0 or value > MAX_QUANTITY or value.as_tuple().exponent < -4:  # type: ignore[operator]
        return None
    return Decimal(plain(value))  # one spelling per value: 20.0 and 20 are both "20"


def rate_or_none(text: object) -> Decimal | None:
    """A VAT rate in percent, 0 to 100, with at most two decimal places."""
    value = decimal_or_none(text)
    if value is None or not (0 <= value <= 100) or value.as_tuple().exponent < -2:  # type: ignore[operator]
        return None
    return Decimal(plain(value))


def times(quantity: Decimal, unit_pence: int) -> int:
    """quantity × unit price in whole pence, rounded half up."""
    return int((quantity * unit_pence).quantize(PENNY, rounding=ROUND_HALF_UP))


def vat_of(net_pence: int, rate: Decimal) -> int:
    """The VAT on `net_pence` at `rate` percent, rounded half up to the penny."""
    return int((Decimal(net_pence) * rate / 100).quantize(PENNY, rounding=ROUND_HALF_UP))


def pounds(pence: int) -> str:
    """Whole pence written as pounds with two decimal places ("12.30"), exactly."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), 100)
    return f"{sign}{whole}.{part:02d}"


def plain(value: Decimal) -> str:
    """A decimal without exponent or needless trailing zeros ("2", "0.5", "20")."""
    return format(value.normalize(), "f")
