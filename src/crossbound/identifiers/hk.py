"""Hong Kong: HKID (mod 11), Business Registration Number, FPS proxy ID, and the Mainland Travel Permit
for Hong Kong and Macao residents (the last three by format only: they have no public check digit).
"""

from __future__ import annotations

import datetime
import re
from typing import Final

from crossbound.identifiers._base import DROP_SEPARATORS, R_DIGITS, R_EMPTY, IdCheck, fail, is_digits, ok

__all__ = ["check_fps_id", "check_hk_brn", "check_hkid", "check_home_return_permit", "hkid_check_char"]

# --------------------------------------------------------------------------------------------------
# HKID
# --------------------------------------------------------------------------------------------------

_HKID_RE: Final = re.compile(r"[A-Z]{1,2}[0-9]{6}(?:\([0-9A]\)|[0-9A])")
_HKID_CHARSET_RE: Final = re.compile(r"[A-Z0-9()]+")


def hkid_check_char(prefix: str, digits: str) -> str:
    """The HKID check character (mod 11, ``0``-``9`` or ``A``) of one or two letters and six digits."""
    if len(prefix) == 1:
        total = 36 * 9 + (ord(prefix) - 55) * 8  # a single letter is padded with a space valued 36
    else:
        total = (ord(prefix[0]) - 55) * 9 + (ord(prefix[1]) - 55) * 8
    total += sum(int(d) * w for d, w in zip(digits, (7, 6, 5, 4, 3, 2), strict=True))
    c = (11 - total % 11) % 11
    return "A" if c == 10 else str(c)


def check_hkid(value: str, today: datetime.date | None) -> IdCheck:
    kind = "hkid"
    s = value.strip().translate(DROP_SEPARATORS).upper()
    if not s:
        return fail(kind, "EMPTY", R_EMPTY)
    if _HKID_CHARSET_RE.fullmatch(s) is None:
        return fail(kind, "CHARSET", "contains a character other than letters, digits and brackets")
    bare = s.replace("(", "").replace(")", "")
    if len(bare) not in (8, 9):
        return fail(kind, "LENGTH", "an HKID has one or two letters, six digits and a check character")
    if _HKID_RE.fullmatch(s) is None:
        return fail(
            kind, "FORMAT", "expected one or two letters, six digits and a check character (0-9 or A)"
        )
    prefix, digits = bare[:-7], bare[-7:-1]
    if bare[-1] != hkid_check_char(prefix, digits):
        return fail(
            kind,
            "CHECK_DIGIT",
            "check character should be computed from the letters and digits (mod 11) and does not match",
        )
    return ok(kind, bare)


# --------------------------------------------------------------------------------------------------
# HK Business Registration Number (no public check digit)
# --------------------------------------------------------------------------------------------------

_BRN_RE: Final = re.compile(r"[0-9]{8}|[A-Z][0-9]{7}")


def check_hk_brn(value: str, today: datetime.date | None) -> IdCheck:
    kind = "hk_brn"
    # Hyphens are not dropped: "12345678-000" is a certificate number, not a BRN.
    s = value.strip().upper()
    if not s:
        return fail(kind, "EMPTY", R_EMPTY)
    if len(s) != 8:
        return fail(
            kind, "LENGTH", "a BRN has 8 characters (take the first 8 digits of a BR certificate number)"
        )
    if _BRN_RE.fullmatch(s) is None:
        return fail(kind, "FORMAT", "expected 8 digits, or one letter and 7 digits for a dummy BRN")
    return ok(kind, s)


# --------------------------------------------------------------------------------------------------
# Format-only identifiers
# --------------------------------------------------------------------------------------------------

_FPS_RE: Final = re.compile(r"[0-9]{7}(?:[0-9]{2})?")


def check_fps_id(value: str, today: datetime.date | None) -> IdCheck:
    kind = "fps_id"
    s = value.strip().translate(DROP_SEPARATORS)
    if not s:
        return fail(kind, "EMPTY", R_EMPTY)
    if not is_digits(s):
        return fail(kind, "CHARSET", R_DIGITS)
    if _FPS_RE.fullmatch(s) is None:
        return fail(kind, "LENGTH", "an FPS ID has 7 or 9 digits")
    return ok(kind, s)


_HRP_RE: Final = re.compile(r"[HM][0-9]{8}(?:[0-9]{2})?|(?:HA|MA)[0-9]{7}")


def check_home_return_permit(value: str, today: datetime.date | None) -> IdCheck:
    kind = "home_return_permit"
    s = value.strip().translate(DROP_SEPARATORS).upper()
    if not s:
        return fail(kind, "EMPTY", R_EMPTY)
    if len(s) not in (9, 11):
        return fail(kind, "LENGTH", "a travel permit number has 9 or 11 characters")
    if _HRP_RE.fullmatch(s) is None:
        return fail(
            kind, "FORMAT", "expected H or M and 8 digits (optionally 2 more), or HA or MA and 7 digits"
        )
    return ok(kind, s)
