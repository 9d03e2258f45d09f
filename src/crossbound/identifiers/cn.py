"""Mainland China: the Unified Social Credit Code (GB 32100) and the resident ID (GB 11643).

The check-character functions are public so that synthetic identifiers (``crossbound.testing.synthetic``)
are built with the very arithmetic that checks them.
"""

from __future__ import annotations

import datetime
import re
from typing import Final

from crossbound.domain import LOCAL_TZ
from crossbound.identifiers._base import DROP_SEPARATORS, R_EMPTY, IdCheck, fail, is_digits, ok

__all__ = [
    "check_cn_resident_id",
    "check_uscc",
    "gb11714_check_char",
    "is_plausible_uscc",
    "resident_id_check_char",
    "uscc_check_char",
]

# --------------------------------------------------------------------------------------------------
# USCC: GB 32100-2015
# --------------------------------------------------------------------------------------------------

_USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE: Final[dict[str, int]] = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_RE: Final = re.compile(r"[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}")
_USCC_CHARSET_RE: Final = re.compile(r"[0-9A-HJ-NP-RTUWXY]+")
_USCC_AUTHORITIES: Final = frozenset("123456789ANY")
_GB11714_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check_char(body: str) -> str:
    """The GB 32100 check character (mod 31) of a USCC's first 17 characters."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def gb11714_check_char(body8: str) -> str:
    """The GB 11714 organisation-code check character of 8 digits (a USCC's positions 9-16)."""
    c = 11 - sum(int(d) * w for d, w in zip(body8, _GB11714_WEIGHTS, strict=True)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


# GB 32100-2015 Appendix A: the entity categories (position 2) each registration authority (position 1)
# assigns: 9 (market regulation) 1 enterprise, 2 individual business, 3 farmers' co-operative; 5 (civil
# affairs) 1 social group, 2 private non-enterprise unit, 3 foundation, 9 other; and so on.
_USCC_CATEGORIES: Final[dict[str, str]] = {
    "1": "1239",
    "2": "19",
    "3": "123459",
    "4": "19",
    "5": "1239",
    "6": "129",
    "7": "129",
    "8": "19",
    "9": "123",
    "A": "19",
    "N": "1239",
    "Y": "1",
}


def is_plausible_uscc(code: str) -> bool:
    """A normalised, valid USCC whose authority/category pair exists and whose division code (positions
    3-8) begins with a province code (or ``10``, the central level).

    The mod 31 check alone lets 1 in 31 random 18-character strings through, resident IDs included; a
    resident ID's positions 1-2 are a province and 3-8 a city, county and birth century, which this
    structure refuses for most provinces (see :mod:`crossbound.rules.pi` for how C4 uses it).
    """
    return code[1] in _USCC_CATEGORIES.get(code[0], "") and (code[2:4] in _RIC_PROVINCES or code[2:4] == "10")


def check_uscc(value: str, today: datetime.date | None) -> IdCheck:
    kind = "uscc"
    s = value.strip().translate(DROP_SEPARATORS).upper()
    if not s:
        return fail(kind, "EMPTY", R_EMPTY)
    if len(s) != 18:
        return fail(kind, "LENGTH", "a unified social credit code has 18 characters")
    if _USCC_CHARSET_RE.fullmatch(s) is None:
        return fail(
            kind,
            "CHARSET",
            "contains a character outside the code alphabet (digits and letters without I, O, S, V, Z)",
        )
    if _USCC_RE.fullmatch(s) is None:
        return fail(kind, "FORMAT", "positions 3-8 (administrative division code) must be digits")
    if s[17] != uscc_check_char(s[:17]):
        return fail(
            kind,
            "CHECK_DIGIT",
            "check character should be computed from positions 1-17 (mod 31) and does not match",
        )
    warnings: list[str] = []
    if s[0] not in _USCC_AUTHORITIES:
        warnings.append("UNKNOWN_REGISTRATION_AUTHORITY")
    body8 = s[8:16]
    if is_digits(body8) and s[16] != gb11714_check_char(body8):
        warnings.append("GB11714_CHECK")
    return ok(kind, s, tuple(warnings))


# --------------------------------------------------------------------------------------------------
# Mainland resident ID / residence permit: GB 11643-1999, ISO 7064 MOD 11-2
# --------------------------------------------------------------------------------------------------

_RIC_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RIC_CHECK: Final = "10X98765432"  # indexed by sum mod 11
_RIC_CHARSET_RE: Final = re.compile(r"[0-9X]+")
_RIC_RE: Final = re.compile(r"[0-9]{17}[0-9X]")
# GB/T 2260 province-level prefixes; 81/82/83 only as the residence-permit codes 810000/820000/830000.
_RIC_PROVINCES_TEXT: Final = (
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71"
)
_RIC_PROVINCES: Final = frozenset(_RIC_PROVINCES_TEXT.split())
_RIC_PERMIT_AREAS: Final = frozenset({"810000", "820000", "830000"})
_RIC_MIN_YEAR: Final = 1800


def resident_id_check_char(body: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character of a resident ID's first 17 digits."""
    return _RIC_CHECK[sum(int(d) * w for d, w in zip(body, _RIC_WEIGHTS, strict=True)) % 11]


def check_cn_resident_id(value: str, today: datetime.date | None) -> IdCheck:
    kind = "cn_resident_id"
    s = value.strip().translate(DROP_SEPARATORS).upper()
    if not s:
        return fail(kind, "EMPTY", R_EMPTY)
    if len(s) != 18:
        return fail(kind, "LENGTH", "a resident ID number has 18 characters")
    if _RIC_CHARSET_RE.fullmatch(s) is None:
        return fail(kind, "CHARSET", "contains a character other than digits and the check letter X")
    if _RIC_RE.fullmatch(s) is None:
        return fail(kind, "FORMAT", "positions 1-17 must be digits; only the check character may be X")
    if s[17] != resident_id_check_char(s[:17]):
        return fail(
            kind,
            "CHECK_DIGIT",
            "check character should be computed from positions 1-17 (MOD 11-2) and does not match",
        )
    try:
        born = datetime.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return fail(kind, "DATE", "positions 7-14 are not a real calendar date")
    if born.year < _RIC_MIN_YEAR:
        return fail(kind, "DATE", "birth year is implausibly early")
    if today is None:
        today = datetime.datetime.now(LOCAL_TZ).date()
    if born > today:
        return fail(kind, "FUTURE_DATE", "birth date is in the future")
    area = s[:6]
    if area[:2] in _RIC_PROVINCES or area in _RIC_PERMIT_AREAS:
        return ok(kind, s)
    return ok(kind, s, ("UNKNOWN_AREA_CODE",))
