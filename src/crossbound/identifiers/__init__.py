"""Identifier checks for values that cross the Hong Kong / Shenzhen boundary.

Every check is pure and cheap (a few microseconds; regexes and tables are built once at import; the
only I/O is python-stdnum reading its IBAN registry file once, on the first IBAN check) and returns an
:class:`IdCheck` instead of raising, so a rule engine can call it on a hot path. The ``reason`` of a
result is always one of the fixed sentences in this module: it never contains the checked value or any
part of it, because results may end up in logs and dead letters.

Kinds (worked vectors for each algorithm in ``tests/unit/identifiers/test_identifiers.py``):

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

The checks live by region (:mod:`~crossbound.identifiers.cn`, :mod:`~crossbound.identifiers.hk`,
:mod:`~crossbound.identifiers.intl`, :mod:`~crossbound.identifiers.cards`); this module is the one
entry point. The check-character functions are public so that synthetic identifiers
(:mod:`crossbound.testing.synthetic`) are built with the same arithmetic that checks them.
``is_plausible_uscc`` reads a valid USCC's structure (GB 32100 authority/category pair, division code),
which C4 (:func:`crossbound.rules.pi.field_pi_code`) requires before it exempts a ``uscc`` field's value.
"""

from __future__ import annotations

import datetime
from typing import Final

from crossbound.identifiers._base import R_NOT_ASCII, R_NOT_STR, Checker, IdCheck, fail
from crossbound.identifiers.cards import check_luhn, check_unionpay_card, luhn_check_digit
from crossbound.identifiers.cn import (
    check_cn_resident_id,
    check_uscc,
    gb11714_check_char,
    is_plausible_uscc,
    resident_id_check_char,
    uscc_check_char,
)
from crossbound.identifiers.hk import (
    check_fps_id,
    check_hk_brn,
    check_hkid,
    check_home_return_permit,
    hkid_check_char,
)
from crossbound.identifiers.intl import check_bic, check_currency, check_iban, check_lei, lei_check_digits

__all__ = [
    "KINDS",
    "IdCheck",
    "check",
    "gb11714_check_char",
    "hkid_check_char",
    "is_plausible_uscc",
    "is_valid",
    "lei_check_digits",
    "luhn_check_digit",
    "resident_id_check_char",
    "uscc_check_char",
]

_CHECKERS: Final[dict[str, Checker]] = {
    "uscc": check_uscc,
    "cn_resident_id": check_cn_resident_id,
    "hkid": check_hkid,
    "hk_brn": check_hk_brn,
    "lei": check_lei,
    "bic": check_bic,
    "iban": check_iban,
    "luhn": check_luhn,
    "unionpay_card": check_unionpay_card,
    "fps_id": check_fps_id,
    "home_return_permit": check_home_return_permit,
    "currency": check_currency,
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
        return fail(kind, "TYPE", R_NOT_STR)
    if not value.isascii():  # str.upper() folds some letters (long s, dotless i) into ASCII ones
        return fail(kind, "CHARSET", R_NOT_ASCII)
    return checker(value, today)


def is_valid(kind: str, value: str, *, today: datetime.date | None = None) -> bool:
    """True when ``value`` is a valid identifier of ``kind`` (warnings do not make it invalid)."""
    return check(kind, value, today=today).valid
