"""The closures a translated CEL expression is made of (see :mod:`crossbound.rules.celfast`).

Each computes a CEL value from a context where its meaning is plain and raises :class:`Fallback`
otherwise, so the caller evaluates the expression with the CEL library instead; what "plain" means
for each operator is the subset's description in :mod:`crossbound.rules.celfast`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import add, ge, gt, le, lt, mul, sub
from typing import Any

from crossbound.domain import LOCAL_TZ
from crossbound.rules.model import Context

__all__ = [
    "Fallback",
    "Fast",
    "arithmetic",
    "both",
    "choice",
    "compare",
    "const",
    "double",
    "either",
    "has",
    "item",
    "lookup",
    "member",
    "negation",
    "size",
    "step",
]

Fast = Callable[[Context], Any]


class Fallback(Exception):
    """This input is outside what the closure decides: evaluate with the CEL library."""


_FALLBACK = Fallback()
_SIMPLE = (str, bool, int)  # equality with null is False for these, as in the library


def _decimal(v: Decimal) -> float:
    """An Avro decimal as the library reads it: a double (the nearest, as ``float`` rounds)."""
    if not v.is_finite():
        raise _FALLBACK
    return float(v)


def step(base: Fast, key: str, top: bool) -> Fast:
    """A key's value; below a root's own fields, a date is not converted for CEL, so it falls back."""

    def get(ctx: Context) -> Any:
        obj = base(ctx)
        if type(obj) is not dict or key not in obj:
            raise _FALLBACK
        value = obj[key]
        kind = type(value)
        if kind is Decimal:
            return _decimal(value)
        if not top and kind is date:
            raise _FALLBACK
        return value

    return get


def has(base: Fast, key: str) -> Fast:
    def has(ctx: Context) -> bool:
        obj = base(ctx)
        if type(obj) is not dict:
            raise _FALLBACK
        return key in obj

    return has


def const(value: Any) -> Fast:
    return lambda ctx: value


def _moment(v: Any) -> datetime:
    """A date or an aware timestamp as the instant CEL compares; anything else falls back."""
    if type(v) is datetime:
        if v.tzinfo is None:
            raise _FALLBACK
        return v
    if type(v) is date:
        return datetime(v.year, v.month, v.day, tzinfo=LOCAL_TZ)
    raise _FALLBACK


def _equal(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ta is tb and (ta in _SIMPLE or a is None):
        return bool(a == b)
    if (a is None and tb in _SIMPLE) or (b is None and ta in _SIMPLE):
        return False
    raise _FALLBACK


_ORDER: dict[str, Callable[[Any, Any], bool]] = {"<": lt, "<=": le, ">": gt, ">=": ge}


def _ordered(op: str, left: Fast, right: Fast) -> Fast:
    cmp = _ORDER[op]

    def order(ctx: Context) -> bool:
        a, b = left(ctx), right(ctx)
        ta, tb = type(a), type(b)
        if ta is tb and (ta in (int, str, timedelta) or (ta is float and a == a and b == b)):  # NaN: library
            return cmp(a, b)
        if ta in (date, datetime) and tb in (date, datetime):
            if ta is tb is date:
                return cmp(a, b)
            return cmp(_moment(a), _moment(b))
        raise _FALLBACK

    return order


def _boolean(v: Any) -> bool:
    if type(v) is not bool:
        raise _FALLBACK
    return v


_INT64 = (-(2**63), 2**63 - 1)
_ARITH: dict[str, Callable[[Any, Any], Any]] = {"+": add, "-": sub, "*": mul}


def arithmetic(op: str, left: Fast, right: Fast) -> Fast:
    """Two integers (within int64, as CEL's overflow is an error) or two doubles; else the library."""
    fn = _ARITH[op]

    def arith(ctx: Context) -> Any:
        a, b = left(ctx), right(ctx)
        ta = type(a)
        if ta in _TEMPORAL or type(b) in _TEMPORAL:
            return _temporal(op, a, b)
        if ta is not type(b) or ta not in (int, float):
            raise _FALLBACK
        result = fn(a, b)
        if ta is int and not _INT64[0] <= result <= _INT64[1]:
            raise _FALLBACK
        return result

    return arith


_TEMPORAL = (date, datetime, timedelta)


def _temporal(op: str, a: Any, b: Any) -> Any:
    """Timestamps (dates as the library converts them) and durations: their difference, a moment
    moved by a duration, two durations added or subtracted; out of range or anything else: the library."""
    ta, tb = type(a), type(b)
    try:
        if ta is timedelta and tb is timedelta and op != "*":
            return a + b if op == "+" else a - b
        if tb is timedelta and op in ("+", "-"):
            return _moment(a) + b if op == "+" else _moment(a) - b
        if ta is timedelta and op == "+":
            return a + _moment(b)
        if op == "-" and ta is not timedelta and tb is not timedelta:
            return _moment(a) - _moment(b)
    except OverflowError:
        pass
    raise _FALLBACK


def double(inner: Fast) -> Fast:
    def double(ctx: Context) -> float:
        v = inner(ctx)
        if type(v) is float:
            return v
        if type(v) is int and abs(v) <= 2**53:  # exactly representable: no rounding question
            return float(v)
        raise _FALLBACK

    return double


def size(inner: Fast) -> Fast:
    def size(ctx: Context) -> int:
        v = inner(ctx)
        if type(v) is not list:
            raise _FALLBACK
        return len(v)

    return size


def item(inner: Fast, index: int) -> Fast:
    def item(ctx: Context) -> Any:
        v = inner(ctx)
        if type(v) is not list or not 0 <= index < len(v):
            raise _FALLBACK
        value = v[index]
        return _decimal(value) if type(value) is Decimal else value

    return item


def lookup(entries: dict[str, int], index: Fast) -> Fast:
    def lookup(ctx: Context) -> int:
        key = index(ctx)
        if type(key) is not str or key not in entries:  # no such key: an error, the library's
            raise _FALLBACK
        return entries[key]

    return lookup


def choice(test: Fast, then: Fast, otherwise: Fast) -> Fast:
    return lambda ctx: then(ctx) if _boolean(test(ctx)) else otherwise(ctx)


def negation(inner: Fast) -> Fast:
    return lambda ctx: not _boolean(inner(ctx))


def either(left: Fast, right: Fast) -> Fast:
    return lambda ctx: _boolean(left(ctx)) or _boolean(right(ctx))


def both(left: Fast, right: Fast) -> Fast:
    return lambda ctx: _boolean(left(ctx)) and _boolean(right(ctx))


def compare(op: str, left: Fast, right: Fast) -> Fast:
    if op == "==":
        return lambda ctx: _equal(left(ctx), right(ctx))
    if op == "!=":
        return lambda ctx: not _equal(left(ctx), right(ctx))
    return _ordered(op, left, right)


def member(left: Fast, values: tuple[Any, ...]) -> Fast:
    allowed = frozenset(values)

    def member(ctx: Context) -> bool:
        v = left(ctx)
        if type(v) is str:
            return v in allowed
        if v is None:
            return False
        raise _FALLBACK

    return member
