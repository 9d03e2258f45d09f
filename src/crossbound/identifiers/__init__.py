"""Identifier checks for values that cross the Hong Kong / Shenzhen boundary.

Every check is pure and cheap (a few microseconds; regexes and tables are built once at import; the
only I/O is python-stdnum reading its IBAN registry file once, on the first IBAN check) and returns an
:class:`IdCheck` instead of raising, so a rule engine can call it on a hot path. The ``reason`` of a
result is always one of the fixed sentences in this module: it never contains the checked value or any
part of it, because results may end up in logs and dead letters.

Kinds (worked vectors for each algorithm in ``tests/unit/test_identifiers.py``):

==================== ============================================================ ===================
kind                 what is checked                                              implementation
==================== ============================================================ ===================
``uscc``             Mainland Unified Social Credit Code, GB 32100 (mod 31);      own
                     GB 11714 organisation-code check as a warning only
``cn_resident_id``   Mainland resident ID / HK-Macao-Taiwan residence permit,     own
                     GB 11643 (ISO 7064 MOD 11-2), real and past birth date
``hkid``             Hong Kong Identity Card (mod 11, one or two letters)         own
``hk_brn``           Hong Kong Business Registration Number (format only)         own
``lei``              Legal Entity Identifier, ISO 17442 (MOD 97-10)               ``stdnum.iso7064.mod_97_10``
``bic``              BIC, ISO 9362 (format + assigned country, no check digit)    ``stdnum.bic``
``iban``             IBAN, ISO 13616 (registry country, length, BBAN, MOD 97-10)  ``stdnum.iban`` data,
                                                                                  ``mod_97_10``, national
                                                                                  ``stdnum.<cc>.iban``
``luhn``             any 12-19 digit number with a Luhn check digit               ``stdnum.luhn``
``unionpay_card``    UnionPay card: prefix 62, 16-19 digits, Luhn                 ``stdnum.luhn``
``fps_id``           HK Faster Payment System proxy ID (7 or 9 digits)            own (format only)
``home_return_permit`` Mainland Travel Permit for HK/Macao residents (format)      own (format only)
``currency``         ISO 4217 circulating currency; ``CNH`` -> ``CNY`` + warning  own (embedded table)
==================== ============================================================ ===================

Why python-stdnum (2.2) is not used everywhere:

* ``stdnum.cn.ric`` rejects valid resident IDs because it checks the address code against historical
  GB/T 2260 division tables: it rejects the standard's own example ``440524188001010014`` and every
  HK/Macao/Taiwan residence permit (address code ``810000``/``820000``/``830000``). Here the address code
  is never a reason to reject; an unknown province prefix is only a warning (``UNKNOWN_AREA_CODE``).
* ``stdnum.cn.uscc`` requires positions 1-8 to be digits, but GB 32100 registration-authority codes
  include the letters ``A`` (military reform office), ``N`` (agriculture) and ``Y`` (other), so it
  rejects real codes of e.g. rural collective economic organisations (``N2...``).
* python-stdnum has no Hong Kong module (HKID, BRN), no ISO 4217 table and no FPS / travel-permit formats.
* ``stdnum.lei`` is right but cannot say *why* a value fails, so the format is checked here and the
  arithmetic is delegated to ``stdnum.iso7064.mod_97_10``. ``stdnum.bic`` is used as is and its
  exceptions are mapped to codes. For IBANs the SWIFT registry data shipped with ``stdnum.iban`` gives
  the country lengths and BBAN structures; HK, CN and MO are not IBAN countries (``NOT_IBAN_COUNTRY``).

Note on error detection: MOD 11-2, mod 31 (USCC), Luhn and MOD 97-10 over digits detect every
single-character substitution. MOD 97-10 over *alphanumeric* strings (LEI bodies, IBAN BBANs) does not
detect about 1 % of letter<->digit substitutions, and the HKID mod 11 check does not detect a substituted
prefix letter whose value differs by 11 or 22 (``A``/``L``/``W``), because letter values span 10-35.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from stdnum import bic as _stdnum_bic
from stdnum import luhn as _stdnum_luhn
from stdnum import numdb as _stdnum_numdb
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidLength, ValidationError
from stdnum.iso7064 import mod_97_10 as _mod_97_10
from stdnum.util import NumberValidationModule
from stdnum.util import get_cc_module as _get_cc_module

__all__ = ["KINDS", "IdCheck", "check", "is_valid"]


@dataclass(frozen=True, slots=True)
class IdCheck:
    """The outcome of one identifier check; ``reason`` never contains the value."""

    kind: str
    valid: bool
    code: str
    reason: str
    normalised: str | None = None
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------------
# Shared helpers and constants
# --------------------------------------------------------------------------------------------------

OK: Final = "OK"
_VALID_REASON: Final = "valid"

# Separators removed before checking most identifiers (grouping as typed by people).
_DROP_SEPARATORS: Final = str.maketrans("", "", " -")
_DROP_SPACES: Final = str.maketrans("", "", " ")

# HK and Shenzhen are both UTC+8; "today" for birth dates is the local date there.
_UTC8: Final = datetime.timezone(datetime.timedelta(hours=8))

_R_EMPTY: Final = "value is empty"
_R_NOT_STR: Final = "value is not a string"
_R_NOT_ASCII: Final = "value contains characters outside ASCII"


def _ok(kind: str, normalised: str, warnings: tuple[str, ...] = ()) -> IdCheck:
    return IdCheck(kind, True, OK, _VALID_REASON, normalised, warnings)


def _fail(kind: str, code: str, reason: str) -> IdCheck:
    return IdCheck(kind, False, code, reason)


def _is_digits(s: str) -> bool:
    """ASCII digits only (``str.isdigit`` alone also accepts superscripts and other scripts)."""
    return s.isascii() and s.isdigit()


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


def _uscc_check_char(body: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def _gb11714_check_char(body8: str) -> str:
    c = 11 - sum(int(d) * w for d, w in zip(body8, _GB11714_WEIGHTS, strict=True)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def _check_uscc(value: str, today: datetime.date | None) -> IdCheck:
    kind = "uscc"
    s = value.strip().translate(_DROP_SEPARATORS).upper()
    if not s:
        return _fail(kind, "EMPTY", _R_EMPTY)
    if len(s) != 18:
        return _fail(kind, "LENGTH", "a unified social credit code has 18 characters")
    if _USCC_CHARSET_RE.fullmatch(s) is None:
        return _fail(
            kind,
            "CHARSET",
            "contains a character outside the code alphabet (digits and letters without I, O, S, V, Z)",
        )
    if _USCC_RE.fullmatch(s) is None:
        return _fail(kind, "FORMAT", "positions 3-8 (administrative division code) must be digits")
    if s[17] != _uscc_check_char(s[:17]):
        return _fail(
            kind,
            "CHECK_DIGIT",
            "check character should be computed from positions 1-17 (mod 31) and does not match",
        )
    warnings: list[str] = []
    if s[0] not in _USCC_AUTHORITIES:
        warnings.append("UNKNOWN_REGISTRATION_AUTHORITY")
    body8 = s[8:16]
    if _is_digits(body8) and s[16] != _gb11714_check_char(body8):
        warnings.append("GB11714_CHECK")
    return _ok(kind, s, tuple(warnings))


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


def _ric_check_char(body: str) -> str:
    return _RIC_CHECK[sum(int(d) * w for d, w in zip(body, _RIC_WEIGHTS, strict=True)) % 11]


def _check_cn_resident_id(value: str, today: datetime.date | None) -> IdCheck:
    kind = "cn_resident_id"
    s = value.strip().translate(_DROP_SEPARATORS).upper()
    if not s:
        return _fail(kind, "EMPTY", _R_EMPTY)
    if len(s) != 18:
        return _fail(kind, "LENGTH", "a resident ID number has 18 characters")
    if _RIC_CHARSET_RE.fullmatch(s) is None:
        return _fail(kind, "CHARSET", "contains a character other than digits and the check letter X")
    if _RIC_RE.fullmatch(s) is None:
        return _fail(kind, "FORMAT", "positions 1-17 must be digits; only the check character may be X")
    if s[17] != _ric_check_char(s[:17]):
        return _fail(
            kind,
            "CHECK_DIGIT",
            "check character should be computed from positions 1-17 (MOD 11-2) and does not match",
        )
    try:
        born = datetime.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return _fail(kind, "DATE", "positions 7-14 are not a real calendar date")
    if born.year < _RIC_MIN_YEAR:
        return _fail(kind, "DATE", "birth year is implausibly early")
    if today is None:
        today = datetime.datetime.now(_UTC8).date()
    if born > today:
        return _fail(kind, "FUTURE_DATE", "birth date is in the future")
    area = s[:6]
    if area[:2] in _RIC_PROVINCES or area in _RIC_PERMIT_AREAS:
        return _ok(kind, s)
    return _ok(kind, s, ("UNKNOWN_AREA_CODE",))


# --------------------------------------------------------------------------------------------------
# HKID
# --------------------------------------------------------------------------------------------------

_HKID_RE: Final = re.compile(r"[A-Z]{1,2}[0-9]{6}(?:\([0-9A]\)|[0-9A])")
_HKID_CHARSET_RE: Final = re.compile(r"[A-Z0-9()]+")


def _hkid_check_char(prefix: str, digits: str) -> str:
    if len(prefix) == 1:
        total = 36 * 9 + (ord(prefix) - 55) * 8  # a single letter is padded with a space valued 36
    else:
        total = (ord(prefix[0]) - 55) * 9 + (ord(prefix[1]) - 55) * 8
    total += sum(int(d) * w for d, w in zip(digits, (7, 6, 5, 4, 3, 2), strict=True))
    c = (11 - total % 11) % 11
    return "A" if c == 10 else str(c)


def _check_hkid(value: str, today: datetime.date | None) -> IdCheck:
    kind = "hkid"
    s = value.strip().translate(_DROP_SEPARATORS).upper()
    if not s:
        return _fail(kind, "EMPTY", _R_EMPTY)
    if _HKID_CHARSET_RE.fullmatch(s) is None:
        return _fail(kind, "CHARSET", "contains a character other than letters, digits and brackets")
    bare = s.replace("(", "").replace(")", "")
    if len(bare) not in (8, 9):
        return _fail(kind, "LENGTH", "an HKID has one or two letters, six digits and a check character")
    if _HKID_RE.fullmatch(s) is None:
        return _fail(
            kind, "FORMAT", "expected one or two letters, six digits and a check character (0-9 or A)"
        )
    prefix, digits = bare[:-7], bare[-7:-1]
    if bare[-1] != _hkid_check_char(prefix, digits):
        return _fail(
            kind,
            "CHECK_DIGIT",
            "check character should be computed from the letters and digits (mod 11) and does not match",
        )
    return _ok(kind, bare)


# --------------------------------------------------------------------------------------------------
# HK Business Registration Number (no public check digit)
# --------------------------------------------------------------------------------------------------

_BRN_RE: Final = re.compile(r"[0-9]{8}|[A-Z][0-9]{7}")


def _check_hk_brn(value: str, today: datetime.date | None) -> IdCheck:
    kind = "hk_brn"
    # Hyphens are not dropped: "12345678-000" is a certificate number, not a BRN.
    s = value.strip().upper()
    if not s:
        return _fail(kind, "EMPTY", _R_EMPTY)
    if len(s) != 8:
        return _fail(
            kind, "LENGTH", "a BRN has 8 characters (take the first 8 digits of a BR certificate number)"
        )
    if _BRN_RE.fullmatch(s) is None:
        return _fail(kind, "FORMAT", "expected 8 digits, or one letter and 7 digits for a dummy BRN")
    return _ok(kind, s)


# --------------------------------------------------------------------------------------------------
# LEI: ISO 17442, ISO/IEC 7064 MOD 97-10
# --------------------------------------------------------------------------------------------------

_ALNUM_RE: Final = re.compile(r"[A-Z0-9]+")
_LEI_RE: Final = re.compile(r"[A-Z0-9]{18}[0-9]{2}")
_R_CHECK_RANGE: Final = "check digits must be between 02 and 98"


def _check_lei(value: str, today: datetime.date | None) -> IdCheck:
    kind = "lei"
    s = value.strip().translate(_DROP_SEPARATORS).upper()
    if not s:
        return _fail(kind, "EMPTY", _R_EMPTY)
    if len(s) != 20:
        return _fail(kind, "LENGTH", "an LEI has 20 characters")
    if _ALNUM_RE.fullmatch(s) is None:
        return _fail(kind, "CHARSET", "contains a character other than A-Z and 0-9")
    if _LEI_RE.fullmatch(s) is None:
        return _fail(kind, "FORMAT", "the last two characters (check digits) must be digits")
    if not 2 <= int(s[18:]) <= 98:
        return _fail(kind, "CHECK_DIGIT", _R_CHECK_RANGE)
    if _mod_97_10.checksum(s) != 1:
        return _fail(kind, "CHECK_DIGIT", "check digits do not match (MOD 97-10 remainder is not 1)")
    return _ok(kind, s)


# --------------------------------------------------------------------------------------------------
# BIC: ISO 9362 (python-stdnum)
# --------------------------------------------------------------------------------------------------


def _check_bic(value: str, today: datetime.date | None) -> IdCheck:
    kind = "bic"
    if not value.strip():
        return _fail(kind, "EMPTY", _R_EMPTY)
    try:
        s: str = _stdnum_bic.validate(value)
    except InvalidLength:
        return _fail(kind, "LENGTH", "a BIC has 8 or 11 characters")
    except InvalidComponent:
        return _fail(kind, "COUNTRY", "characters 5-6 are not an assigned ISO 3166-1 country code")
    except ValidationError:
        return _fail(
            kind,
            "FORMAT",
            "expected 4 letters (party), 2 letters (country), 2 letters/digits (location), optional branch",
        )
    if s[7] == "0":
        return _ok(kind, s, ("TEST_BIC",))
    return _ok(kind, s)


# --------------------------------------------------------------------------------------------------
# IBAN: ISO 13616
# --------------------------------------------------------------------------------------------------

# Assigned ISO 3166-1 alpha-2 codes (only used to tell "not a country" from "not an IBAN country").
_ISO3166_TEXT: Final = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV
    BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES
    ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE
    IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU
    NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM
    SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE
    VG VI VN VU WF WS YE YT ZA ZM ZW
"""
_ISO3166_ALPHA2: Final = frozenset(_ISO3166_TEXT.split())
_IBAN_PREFIX_RE: Final = re.compile(r"[A-Z]{2}[0-9]{2}")
_IBAN_STRUCT_RE: Final = re.compile(r"([1-9][0-9]*)!([nac])")
_IBAN_STRUCT_CLASS: Final = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Z0-9]"}


@functools.cache
def _iban_country(cc: str) -> tuple[int, re.Pattern[str]] | None:
    """(IBAN length, BBAN pattern) for an IBAN registry country, or None; read from stdnum's registry."""
    structure = _stdnum_numdb.get("iban").info(cc)[0][1].get("bban")
    if not structure:
        return None
    length = 4 + sum(int(m.group(1)) for m in _IBAN_STRUCT_RE.finditer(structure))
    pattern = _IBAN_STRUCT_RE.sub(lambda m: f"{_IBAN_STRUCT_CLASS[m.group(2)]}{{{m.group(1)}}}", structure)
    return length, re.compile(pattern)


@functools.cache
def _iban_national(cc: str) -> NumberValidationModule | None:
    """python-stdnum's country-specific IBAN module (national check digits), if there is one."""
    return _get_cc_module(cc, "iban")


def _check_iban(value: str, today: datetime.date | None) -> IdCheck:
    kind = "iban"
    s = value.strip().translate(_DROP_SEPARATORS).upper()
    if not s:
        return _fail(kind, "EMPTY", _R_EMPTY)
    if _ALNUM_RE.fullmatch(s) is None:
        return _fail(kind, "CHARSET", "contains a character other than A-Z and 0-9")
    if len(s) < 5 or _IBAN_PREFIX_RE.match(s) is None:
        return _fail(
            kind, "FORMAT", "expected a 2-letter country code, 2 check digits and the account number"
        )
    cc = s[:2]
    spec = _iban_country(cc)
    if spec is None:
        if cc in _ISO3166_ALPHA2:
            return _fail(kind, "NOT_IBAN_COUNTRY", "the country does not use IBANs (e.g. HK, CN and MO)")
        return _fail(kind, "COUNTRY", "characters 1-2 are not an assigned ISO 3166-1 country code")
    length, bban = spec
    if len(s) != length:
        return _fail(kind, "LENGTH", "length does not match the IBAN registry length for the country")
    if not 2 <= int(s[2:4]) <= 98:
        return _fail(kind, "CHECK_DIGIT", _R_CHECK_RANGE)
    if _mod_97_10.checksum(s[4:] + s[:4]) != 1:
        return _fail(kind, "CHECK_DIGIT", "check digits do not match (MOD 97-10 remainder is not 1)")
    if bban.fullmatch(s[4:]) is None:
        return _fail(
            kind, "FORMAT", "account part does not match the IBAN registry structure for the country"
        )
    national = _iban_national(cc)
    if national is not None:
        try:
            national.validate(s)
        except InvalidChecksum:
            return _fail(kind, "NATIONAL_CHECK", "national check digits inside the account part do not match")
        except ValidationError:
            # e.g. a bank code missing from python-stdnum's table: a table is never a reason to reject.
            return _ok(kind, s, ("UNKNOWN_BANK_CODE",))
    return _ok(kind, s)


# --------------------------------------------------------------------------------------------------
# Luhn and UnionPay cards
# --------------------------------------------------------------------------------------------------

_R_LUHN: Final = "Luhn check digit does not match"
_R_DIGITS: Final = "must contain digits only"


def _check_luhn(value: str, today: datetime.date | None) -> IdCheck:
    kind = "luhn"
    s = value.strip().translate(_DROP_SEPARATORS)
    if not s:
        return _fail(kind, "EMPTY", _R_EMPTY)
    if not _is_digits(s):
        return _fail(kind, "CHARSET", _R_DIGITS)
    if not 12 <= len(s) <= 19:
        return _fail(kind, "LENGTH", "a card-style number has 12-19 digits")
    if _stdnum_luhn.checksum(s) != 0:
        return _fail(kind, "CHECK_DIGIT", _R_LUHN)
    return _ok(kind, s)


def _check_unionpay_card(value: str, today: datetime.date | None) -> IdCheck:
    kind = "unionpay_card"
    s = value.strip().translate(_DROP_SEPARATORS)
    if not s:
        return _fail(kind, "EMPTY", _R_EMPTY)
    if not _is_digits(s):
        return _fail(kind, "CHARSET", _R_DIGITS)
    if not 16 <= len(s) <= 19:
        return _fail(kind, "LENGTH", "a UnionPay card number has 16-19 digits")
    if not s.startswith("62"):
        return _fail(kind, "PREFIX", "UnionPay card numbers start with the issuer prefix 62")
    if _stdnum_luhn.checksum(s) != 0:
        return _fail(kind, "CHECK_DIGIT", _R_LUHN)
    return _ok(kind, s)


# --------------------------------------------------------------------------------------------------
# Format-only identifiers
# --------------------------------------------------------------------------------------------------

_FPS_RE: Final = re.compile(r"[0-9]{7}(?:[0-9]{2})?")


def _check_fps_id(value: str, today: datetime.date | None) -> IdCheck:
    kind = "fps_id"
    s = value.strip().translate(_DROP_SEPARATORS)
    if not s:
        return _fail(kind, "EMPTY", _R_EMPTY)
    if not _is_digits(s):
        return _fail(kind, "CHARSET", _R_DIGITS)
    if _FPS_RE.fullmatch(s) is None:
        return _fail(kind, "LENGTH", "an FPS ID has 7 or 9 digits")
    return _ok(kind, s)


_HRP_RE: Final = re.compile(r"[HM][0-9]{8}(?:[0-9]{2})?|(?:HA|MA)[0-9]{7}")


def _check_home_return_permit(value: str, today: datetime.date | None) -> IdCheck:
    kind = "home_return_permit"
    s = value.strip().translate(_DROP_SEPARATORS).upper()
    if not s:
        return _fail(kind, "EMPTY", _R_EMPTY)
    if len(s) not in (9, 11):
        return _fail(kind, "LENGTH", "a travel permit number has 9 or 11 characters")
    if _HRP_RE.fullmatch(s) is None:
        return _fail(
            kind, "FORMAT", "expected H or M and 8 digits (optionally 2 more), or HA or MA and 7 digits"
        )
    return _ok(kind, s)


# --------------------------------------------------------------------------------------------------
# ISO 4217 currency codes
# --------------------------------------------------------------------------------------------------

# Circulating ISO 4217 currencies. Fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), precious
# metals, bond units, SDR (XDR), XSU, XUA, the test code XTS and "no currency" XXX are not accepted.
_CURRENCIES_TEXT: Final = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
    GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD
    KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK
    NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS
    SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST
    XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
"""
_CURRENCIES: Final = frozenset(_CURRENCIES_TEXT.split())
_CCY_RE: Final = re.compile(r"[A-Z]{3}")
_CURRENCY_ALIASES: Final[dict[str, tuple[str, str]]] = {"CNH": ("CNY", "CNH_NORMALISED")}


def _check_currency(value: str, today: datetime.date | None) -> IdCheck:
    kind = "currency"
    s = value.strip().upper()
    if not s:
        return _fail(kind, "EMPTY", _R_EMPTY)
    if len(s) != 3:
        return _fail(kind, "LENGTH", "a currency code has 3 letters")
    if _CCY_RE.fullmatch(s) is None:
        return _fail(kind, "CHARSET", "a currency code has letters A-Z only")
    if s in _CURRENCIES:
        return _ok(kind, s)
    alias = _CURRENCY_ALIASES.get(s)
    if alias is not None:
        return _ok(kind, alias[0], (alias[1],))
    return _fail(kind, "UNKNOWN_CURRENCY", "not an ISO 4217 circulating currency code")


# --------------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------------

_Checker = Callable[[str, datetime.date | None], IdCheck]

_CHECKERS: Final[dict[str, _Checker]] = {
    "uscc": _check_uscc,
    "cn_resident_id": _check_cn_resident_id,
    "hkid": _check_hkid,
    "hk_brn": _check_hk_brn,
    "lei": _check_lei,
    "bic": _check_bic,
    "iban": _check_iban,
    "luhn": _check_luhn,
    "unionpay_card": _check_unionpay_card,
    "fps_id": _check_fps_id,
    "home_return_permit": _check_home_return_permit,
    "currency": _check_currency,
}

KINDS: Final[tuple[str, ...]] = tuple(_CHECKERS)


def check(kind: str, value: str, *, today: datetime.date | None = None) -> IdCheck:
    """Check ``value`` as an identifier of ``kind``; never raises for a bad value.

    ``today`` is the reference date for "birth date not in the future" (``cn_resident_id`` only); it
    defaults to the current date in UTC+8 (Hong Kong / Shenzhen). An unknown ``kind`` raises ValueError.
    """
    checker = _CHECKERS.get(kind)
    if checker is None:
        raise ValueError(f"unknown identifier kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not isinstance(value, str):
        return _fail(kind, "TYPE", _R_NOT_STR)
    if not value.isascii():  # str.upper() folds some letters (long s, dotless i) into ASCII ones
        return _fail(kind, "CHARSET", _R_NOT_ASCII)
    return checker(value, today)


def is_valid(kind: str, value: str, *, today: datetime.date | None = None) -> bool:
    """True when ``value`` is a valid identifier of ``kind`` (warnings do not make it invalid)."""
    return check(kind, value, today=today).valid
