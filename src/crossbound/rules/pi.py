"""What personal data looks like in clear text: the patterns of the ``no_clear_pi`` check (C4).

A pattern is a cheap, conservative look for a Mainland resident ID, an HKID, a card number or a phone
number. The check exempts fields whose schema declares an identifier kind that the value passes.
"""

from __future__ import annotations

import re

__all__ = ["pi_code"]

# Personal data that must never cross in clear (C4). Digits are bounded by non-alphanumerics so that
# identifiers and references that merely contain a run of digits are not taken for a card number.
_PI_PATTERNS = (
    (
        "PI_CN_ID",
        re.compile(
            r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
            r"(?![0-9A-Za-z])"
        ),
    ),
    ("PI_HKID", re.compile(r"(?<![0-9A-Za-z])[A-Z]{1,2}\d{6}\(?[0-9A]\)?(?![0-9A-Za-z])")),
    ("PI_CARD", re.compile(r"(?<![0-9A-Za-z])(?:\d[ -]?){15,18}\d(?![0-9A-Za-z])")),
    ("PI_PHONE", re.compile(r"\+(?:86[ -]?1\d{2}[ -]?\d{4}[ -]?\d{4}|852[ -]?\d{4}[ -]?\d{4})(?!\d)")),
)


def pi_code(text: str) -> str | None:
    """The code of the first personal-data pattern found in ``text``, or None."""
    for code, pattern in _PI_PATTERNS:
        if pattern.search(text):
            return code
    return None
