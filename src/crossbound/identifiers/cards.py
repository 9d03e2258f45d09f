"""Card-style numbers: any 12-19 digit number with a Luhn check digit, and UnionPay cards."""

from __future__ import annotations

import datetime
from typing import Final

from stdnum import luhn as _stdnum_luhn

from crossbound.identifiers._base import DROP_SEPARATORS, R_DIGITS, R_EMPTY, IdCheck, fail, is_digits, ok

__all__ = ["check_luhn", "check_unionpay_card", "luhn_check_digit"]

# --------------------------------------------------------------------------------------------------
# Luhn and UnionPay cards
# --------------------------------------------------------------------------------------------------

_R_LUHN: Final = "Luhn check digit does not match"


def luhn_check_digit(body: str) -> str:
    """The Luhn check digit to append to the digits ``body``."""
    return str(_stdnum_luhn.calc_check_digit(body))


def check_luhn(value: str, today: datetime.date | None) -> IdCheck:
    kind = "luhn"
    s = value.strip().translate(DROP_SEPARATORS)
    if not s:
        return fail(kind, "EMPTY", R_EMPTY)
    if not is_digits(s):
        return fail(kind, "CHARSET", R_DIGITS)
    if not 12 <= len(s) <= 19:
        return fail(kind, "LENGTH", "a card-style number has 12-19 digits")
    if _stdnum_luhn.checksum(s) != 0:
        return fail(kind, "CHECK_DIGIT", _R_LUHN)
    return ok(kind, s)


def check_unionpay_card(value: str, today: datetime.date | None) -> IdCheck:
    kind = "unionpay_card"
    s = value.strip().translate(DROP_SEPARATORS)
    if not s:
        return fail(kind, "EMPTY", R_EMPTY)
    if not is_digits(s):
        return fail(kind, "CHARSET", R_DIGITS)
    if not 16 <= len(s) <= 19:
        return fail(kind, "LENGTH", "a UnionPay card number has 16-19 digits")
    if not s.startswith("62"):
        return fail(kind, "PREFIX", "UnionPay card numbers start with the issuer prefix 62")
    if _stdnum_luhn.checksum(s) != 0:
        return fail(kind, "CHECK_DIGIT", _R_LUHN)
    return ok(kind, s)
