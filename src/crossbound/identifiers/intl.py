"""International identifiers: LEI (ISO 17442), BIC (ISO 9362), IBAN (ISO 13616), ISO 4217 currencies."""

from __future__ import annotations

import datetime
import functools
import re
from typing import Final

from stdnum import bic as _stdnum_bic
from stdnum import numdb as _stdnum_numdb
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidLength, ValidationError
from stdnum.iso7064 import mod_97_10 as _mod_97_10
from stdnum.util import NumberValidationModule
from stdnum.util import get_cc_module as _get_cc_module

from crossbound.identifiers._base import DROP_SEPARATORS, R_EMPTY, IdCheck, fail, ok

__all__ = ["check_bic", "check_currency", "check_iban", "check_lei", "lei_check_digits"]

# --------------------------------------------------------------------------------------------------
# LEI: ISO 17442, ISO/IEC 7064 MOD 97-10
# --------------------------------------------------------------------------------------------------

_ALNUM_RE: Final = re.compile(r"[A-Z0-9]+")
_LEI_RE: Final = re.compile(r"[A-Z0-9]{18}[0-9]{2}")
_R_CHECK_RANGE: Final = "check digits must be between 02 and 98"


def lei_check_digits(body18: str) -> str:
    """The two ISO 17442 check digits (``02``-``98``, MOD 97-10) of an 18-character LEI body.

    Not ``stdnum.iso7064.mod_97_10.calc_check_digits``: that one writes 97 and 98 as ``00`` and ``01``,
    which ISO 17442 does not allow.
    """
    return f"{98 - _mod_97_10.checksum(body18.upper() + '00'):02d}"


def check_lei(value: str, today: datetime.date | None) -> IdCheck:
    kind = "lei"
    s = value.strip().translate(DROP_SEPARATORS).upper()
    if not s:
        return fail(kind, "EMPTY", R_EMPTY)
    if len(s) != 20:
        return fail(kind, "LENGTH", "an LEI has 20 characters")
    if _ALNUM_RE.fullmatch(s) is None:
        return fail(kind, "CHARSET", "contains a character other than A-Z and 0-9")
    if _LEI_RE.fullmatch(s) is None:
        return fail(kind, "FORMAT", "the last two characters (check digits) must be digits")
    if not 2 <= int(s[18:]) <= 98:
        return fail(kind, "CHECK_DIGIT", _R_CHECK_RANGE)
    if s[18:] != lei_check_digits(s[:18]):
        return fail(kind, "CHECK_DIGIT", "check digits do not match (MOD 97-10 remainder is not 1)")
    return ok(kind, s)


# --------------------------------------------------------------------------------------------------
# BIC: ISO 9362 (python-stdnum)
# --------------------------------------------------------------------------------------------------


def check_bic(value: str, today: datetime.date | None) -> IdCheck:
    kind = "bic"
    if not value.strip():
        return fail(kind, "EMPTY", R_EMPTY)
    try:
        s: str = _stdnum_bic.validate(value)
    except InvalidLength:
        return fail(kind, "LENGTH", "a BIC has 8 or 11 characters")
    except InvalidComponent:
        return fail(kind, "COUNTRY", "characters 5-6 are not an assigned ISO 3166-1 country code")
    except ValidationError:
        return fail(
            kind,
            "FORMAT",
            "expected 4 letters (party), 2 letters (country), 2 letters/digits (location), optional branch",
        )
    if s[7] == "0":
        return ok(kind, s, ("TEST_BIC",))
    return ok(kind, s)


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


def check_iban(value: str, today: datetime.date | None) -> IdCheck:
    kind = "iban"
    s = value.strip().translate(DROP_SEPARATORS).upper()
    if not s:
        return fail(kind, "EMPTY", R_EMPTY)
    if _ALNUM_RE.fullmatch(s) is None:
        return fail(kind, "CHARSET", "contains a character other than A-Z and 0-9")
    if len(s) < 5 or _IBAN_PREFIX_RE.match(s) is None:
        return fail(kind, "FORMAT", "expected a 2-letter country code, 2 check digits and the account number")
    cc = s[:2]
    spec = _iban_country(cc)
    if spec is None:
        if cc in _ISO3166_ALPHA2:
            return fail(kind, "NOT_IBAN_COUNTRY", "the country does not use IBANs (e.g. HK, CN and MO)")
        return fail(kind, "COUNTRY", "characters 1-2 are not an assigned ISO 3166-1 country code")
    length, bban = spec
    if len(s) != length:
        return fail(kind, "LENGTH", "length does not match the IBAN registry length for the country")
    if not 2 <= int(s[2:4]) <= 98:
        return fail(kind, "CHECK_DIGIT", _R_CHECK_RANGE)
    if _mod_97_10.checksum(s[4:] + s[:4]) != 1:
        return fail(kind, "CHECK_DIGIT", "check digits do not match (MOD 97-10 remainder is not 1)")
    if bban.fullmatch(s[4:]) is None:
        return fail(kind, "FORMAT", "account part does not match the IBAN registry structure for the country")
    national = _iban_national(cc)
    if national is not None:
        try:
            national.validate(s)
        except InvalidChecksum:
            return fail(kind, "NATIONAL_CHECK", "national check digits inside the account part do not match")
        except ValidationError:
            # e.g. a bank code missing from python-stdnum's table: a table is never a reason to reject.
            return ok(kind, s, ("UNKNOWN_BANK_CODE",))
    return ok(kind, s)


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


def check_currency(value: str, today: datetime.date | None) -> IdCheck:
    kind = "currency"
    s = value.strip().upper()
    if not s:
        return fail(kind, "EMPTY", R_EMPTY)
    if len(s) != 3:
        return fail(kind, "LENGTH", "a currency code has 3 letters")
    if _CCY_RE.fullmatch(s) is None:
        return fail(kind, "CHARSET", "a currency code has letters A-Z only")
    if s in _CURRENCIES:
        return ok(kind, s)
    alias = _CURRENCY_ALIASES.get(s)
    if alias is not None:
        return ok(kind, alias[0], (alias[1],))
    return fail(kind, "UNKNOWN_CURRENCY", "not an ISO 4217 circulating currency code")
