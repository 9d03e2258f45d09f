"""What every identifier check shares: the result type, its two constructors and the input clean-up."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DROP_SEPARATORS",
    "OK",
    "R_DIGITS",
    "R_EMPTY",
    "R_NOT_ASCII",
    "R_NOT_STR",
    "Checker",
    "IdCheck",
    "fail",
    "is_digits",
    "ok",
]


@dataclass(frozen=True, slots=True)
class IdCheck:
    """The outcome of one identifier check; ``reason`` never contains the value."""

    kind: str
    valid: bool
    code: str
    reason: str
    normalised: str | None = None
    warnings: tuple[str, ...] = ()


Checker = Callable[[str, datetime.date | None], IdCheck]
"""One kind's check: the value and the reference date (only resident IDs read it)."""

OK: Final = "OK"
_VALID_REASON: Final = "valid"

# Separators removed before checking most identifiers (grouping as typed by people).
DROP_SEPARATORS: Final = str.maketrans("", "", " -")

R_EMPTY: Final = "value is empty"
R_NOT_STR: Final = "value is not a string"
R_NOT_ASCII: Final = "value contains characters outside ASCII"
R_DIGITS: Final = "must contain digits only"


def ok(kind: str, normalised: str, warnings: tuple[str, ...] = ()) -> IdCheck:
    """A valid result, with the normalised value and any warnings."""
    return IdCheck(kind, True, OK, _VALID_REASON, normalised, warnings)


def fail(kind: str, code: str, reason: str) -> IdCheck:
    """An invalid result; ``reason`` is one of the fixed sentences of the checking module."""
    return IdCheck(kind, False, code, reason)


def is_digits(s: str) -> bool:
    """ASCII digits only (``str.isdigit`` alone also accepts superscripts and other scripts)."""
    return s.isascii() and s.isdigit()
