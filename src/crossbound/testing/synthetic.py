"""Synthetic identifiers and institutions for simulated traffic: valid by construction, never real.

Every check character comes from :mod:`crossbound.identifiers`, so a generated HKID, resident ID, USCC,
LEI or card number is valid by the very arithmetic that checks it. Each generator draws from the
``random.Random`` it is given, in a fixed order: the same seed gives the same identifiers. What an
institution computes from them before they cross (normalisation, HMAC, digests) is the client's:
:mod:`crossbound.client.identifiers`.
"""

from __future__ import annotations

import random
import re
from datetime import date
from typing import Final

from crossbound.identifiers import (
    gb11714_check_char,
    hkid_check_char,
    lei_check_digits,
    luhn_check_digit,
    resident_id_check_char,
    uscc_check_char,
)

__all__ = [
    "CN_BANKS",
    "CN_CREDIT_AGENCIES",
    "HK_BANKS",
    "HK_CRAS",
    "LEDGER_KEY_ID",
    "bad_uscc",
    "ledger_key",
    "lei_with_check",
    "random_cn_resident_id",
    "random_hkid",
    "random_name",
    "random_unionpay_card",
    "random_uscc",
    "uscc_with_check",
]

LEDGER_KEY_ID: Final = "ledger-2026"


def ledger_key(institution: dict[str, str]) -> bytes:
    """A requesting institution's own ledger key (synthetic: derived from its identifier).

    Per-person ledgers key on HMACs under it (``*_ledger_ref``): the key is the institution's alone,
    unlike the pair key it shares with one counterparty, so a person's reference, and the limits kept
    for the person at the institution, are the same whoever the counterparty is.
    """
    return f"demo-ledger-key|{institution['scheme']}:{institution['id']}|{LEDGER_KEY_ID}".encode()


_LETTERS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def random_hkid(rng: random.Random) -> str:
    """A synthetic HKID with a correct check character, normalised (e.g. ``A1234563``)."""
    prefix = rng.choice(_LETTERS) if rng.random() < 0.9 else rng.choice(_LETTERS) + rng.choice(_LETTERS)
    digits = f"{rng.randrange(1_000_000):06d}"
    return prefix + digits + hkid_check_char(prefix, digits)


_RIC_AREAS: Final = ("440300", "440304", "440305", "440106", "110105", "310115", "440402")
_BIRTH_FIRST: Final = date(1950, 1, 1).toordinal()
_BIRTH_LAST: Final = date(2004, 12, 31).toordinal()


def random_cn_resident_id(rng: random.Random, area: str | None = None) -> str:
    """A synthetic mainland resident ID (or, with ``area="810000"``, an HK residence permit), GB 11643."""
    area = area or rng.choice(_RIC_AREAS)
    born = date.fromordinal(rng.randint(_BIRTH_FIRST, _BIRTH_LAST))
    body = f"{area}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + resident_id_check_char(body)


_USCC_AREAS: Final = ("440300", "440304", "440305", "440106", "110000", "310115", "440400")
_LOOKS_LIKE_CN_ID: Final = re.compile(r"[0-9]{17}[0-9X]")


def uscc_with_check(body16: str) -> str:
    """Complete positions 1-16 of a USCC: the GB 11714 check (when 9-16 are digits) and the GB 32100 one."""
    org = body16[8:16]
    body17 = body16 + (gb11714_check_char(org) if org.isascii() and org.isdigit() else "0")
    return body17 + uscc_check_char(body17)


def random_uscc(rng: random.Random) -> str:
    """A synthetic enterprise USCC (``91`` + area + organisation code) valid under GB 32100 and GB 11714.

    Codes that would look like an 18-character resident ID (all digits, last one a digit or X) are
    skipped, so that no field in clear ever matches a personal-identifier pattern.
    """
    while True:
        s = uscc_with_check(f"91{rng.choice(_USCC_AREAS)}{rng.randrange(10**8):08d}")
        if _LOOKS_LIKE_CN_ID.fullmatch(s) is None:
            return s


def bad_uscc(rng: random.Random) -> str:
    """A USCC with a wrong check character (still in the code alphabet, never resident-ID-like)."""
    good = random_uscc(rng)
    wrong = [c for c in "ABCDEFGHJKLMNPQRTUWY" if c != good[17]]
    return good[:17] + rng.choice(wrong)


def lei_with_check(body18: str) -> str:
    """Append the two ISO 17442 (MOD 97-10) check digits to an 18-character LEI body."""
    return body18.upper() + lei_check_digits(body18)


def random_unionpay_card(rng: random.Random) -> str:
    """A synthetic UnionPay card number: prefix 62, 16 or 19 digits, Luhn check digit."""
    width = rng.choice((13, 16))
    body = f"62{rng.randrange(10**width):0{width}d}"
    return body + luhn_check_digit(body)


_SURNAMES: Final = ("CHAN", "WONG", "LEE", "CHEUNG", "LAU", "CHEN", "LIN", "HUANG", "ZHANG", "LIU", "WU")
_GIVEN: Final = ("TAI MAN", "SIU MING", "KA YAN", "WING", "XIAO MING", "JIA HUI", "WEI", "LI NA", "HAO")


def random_name(rng: random.Random) -> str:
    """A synthetic romanised name (surname first, upper case)."""
    return f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}"


# Institutions: real public identifiers, or synthetic ones with correct check digits.


def _inst(scheme: str, ident: str, city: str) -> dict[str, str]:
    return {"scheme": scheme, "id": ident, "city": city}


HK_BANKS: Final = (
    _inst("LEI", "5493001KJTIIGC8Y1R12", "HK"),
    _inst("LEI", lei_with_check("549300HKDEMOBANK01"), "HK"),
    _inst("LEI", lei_with_check("254900HKDEMOBANK02"), "HK"),
    _inst("BIC", "BKCHHKHHXXX", "HK"),
    _inst("BIC", "HSBCHKHHHKH", "HK"),
    _inst("BIC", "BEASHKHH", "HK"),
)
CN_CREDIT_AGENCIES: Final = (
    _inst("USCC", "91440300123456788M", "440300"),
    _inst("USCC", uscc_with_check("9144030031234567"), "440300"),
    _inst("USCC", uscc_with_check("9111000071234568"), "110000"),
)
CN_BANKS: Final = (
    _inst("BIC", "ICBKCNBJSZN", "440300"),
    _inst("BIC", "CMBCCNBS", "440300"),
    _inst("BIC", "BKCHCNBJ", "440300"),
    _inst("USCC", uscc_with_check("9144030019216301"), "440300"),
)
HK_CRAS: Final = (
    _inst("LEI", "254900HKCNSZDVP00122", "HK"),
    _inst("HK_BRN", "12345678", "HK"),
)
