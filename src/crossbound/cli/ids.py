"""``crossbound ids``: identifier check results for people (aligned lines) and programs (JSON lines).

The views are pure functions over :mod:`crossbound.identifiers`; :func:`run` wires arguments to them.
The value a user typed is printed back to that user's terminal and nowhere else.

Exit codes: 0 when every value is valid, 1 when any is invalid, 2 for an unknown kind or bad input.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import date
from typing import Any, Final

from crossbound.cli.shared import Subparsers, add_json_flag
from crossbound.errors import InputError
from crossbound.identifiers import KINDS, IdCheck, check

__all__ = [
    "KIND_DESCRIPTIONS",
    "add_parser",
    "format_kinds",
    "format_results",
    "json_lines",
    "kinds_json",
    "result_json",
    "run",
]

# One line per kind for `crossbound ids --list`; a test keeps it in step with identifiers.KINDS.
KIND_DESCRIPTIONS: Final[dict[str, str]] = {
    "uscc": "Mainland Unified Social Credit Code, 18 characters (GB 32100, mod 31)",
    "cn_resident_id": "Mainland resident ID or HK/Macao/Taiwan residence permit (GB 11643, MOD 11-2)",
    "hkid": "Hong Kong Identity Card, e.g. A123456(3) (mod 11)",
    "hk_brn": "Hong Kong Business Registration Number, 8 digits (format only)",
    "lei": "Legal Entity Identifier, 20 characters (ISO 17442, MOD 97-10)",
    "bic": "BIC / SWIFT code, 8 or 11 characters (ISO 9362, format and country)",
    "iban": "IBAN (ISO 13616); HK, CN and MO do not use IBANs",
    "luhn": "any 12-19 digit card-style number with a Luhn check digit",
    "unionpay_card": "UnionPay card number: prefix 62, 16-19 digits, Luhn",
    "fps_id": "HK Faster Payment System proxy ID, 7 or 9 digits (format only)",
    "home_return_permit": "Mainland Travel Permit for HK/Macao residents (format only)",
    "currency": "ISO 4217 circulating currency code; CNH is accepted as CNY with a warning",
}


def format_kinds() -> str:
    """The kinds with one description line each."""
    width = max(len(k) for k in KINDS)
    return "\n".join(f"{k:<{width}}  {KIND_DESCRIPTIONS.get(k, '')}".rstrip() for k in KINDS)


def kinds_json() -> list[dict[str, str]]:
    """The kinds as JSON-ready objects (``kind``, ``description``)."""
    return [{"kind": k, "description": KIND_DESCRIPTIONS.get(k, "")} for k in KINDS]


def _detail(value: str, result: IdCheck) -> str:
    if not result.valid:
        return f"{result.code}: {result.reason}"
    parts: list[str] = []
    if result.warnings:
        parts.append(f"warnings: {', '.join(result.warnings)}")
    if result.normalised is not None and result.normalised != value:
        parts.append(f"normalised: {result.normalised}")
    return "; ".join(parts)


def format_results(pairs: Sequence[tuple[str, IdCheck]]) -> str:
    """One aligned line per checked value: the value, ``valid`` or ``invalid``, and why."""
    width = max((len(value) for value, _ in pairs), default=0)
    lines = []
    for value, result in pairs:
        status = "valid" if result.valid else "invalid"
        lines.append(f"{value:<{width}}  {status:<7}  {_detail(value, result)}".rstrip())
    return "\n".join(lines)


def result_json(value: str, result: IdCheck) -> dict[str, Any]:
    """One checked value as a JSON-ready object."""
    return {
        "value": value,
        "kind": result.kind,
        "valid": result.valid,
        "code": result.code,
        "reason": result.reason,
        "normalised": result.normalised,
        "warnings": list(result.warnings),
    }


def json_lines(objects: Sequence[dict[str, Any]]) -> str:
    """One compact JSON object per line."""
    return "\n".join(json.dumps(o, ensure_ascii=False, sort_keys=True) for o in objects)


def add_parser(sub: Subparsers) -> None:
    """The ``ids`` subcommand."""
    p = sub.add_parser(
        "ids",
        help="check identifiers (HKID, USCC, LEI, ...): one line per value, valid or invalid and why",
        description="Check each VALUE as an identifier of KIND. Exit 0 when all are valid, 1 when any is "
        "invalid, 2 for an unknown KIND. `crossbound ids` alone, or `--list`, lists the kinds.",
    )
    p.add_argument("kind", nargs="?", metavar="KIND", help="identifier kind (see --list)")
    p.add_argument(
        "values", nargs="*", metavar="VALUE", help="values to check (use -- before a value starting with -)"
    )
    p.add_argument("--list", action="store_true", help="list the kinds with a description each")
    add_json_flag(p, "one JSON object per line")
    p.add_argument(
        "--today", metavar="YYYY-MM-DD", help="reference date for birth dates (default: today in UTC+8)"
    )
    p.set_defaults(run=run)


def _today(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--today: not a date (YYYY-MM-DD): {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Run ``crossbound ids``."""
    if args.list or args.kind is None:
        print(json_lines(kinds_json()) if args.json else format_kinds())
        return 0
    if args.kind not in KINDS:
        raise InputError(f"unknown identifier kind {args.kind!r}; kinds: {', '.join(KINDS)}")
    if not args.values:
        raise InputError(f"ids {args.kind}: give at least one VALUE to check")
    today = _today(args.today)
    pairs = [(value, check(args.kind, value, today=today)) for value in args.values]
    print(json_lines([result_json(v, r) for v, r in pairs]) if args.json else format_results(pairs))
    return 0 if all(r.valid for _, r in pairs) else 1
