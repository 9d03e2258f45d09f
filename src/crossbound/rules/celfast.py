"""The CEL forms the rule sets use, translated to Python closures that agree with the CEL library.

A rule's ``when`` and most ``cel`` checks are comparisons of one field with a literal, joined by
``&&``, ``||`` and ``!``: the CEL library takes tens of microseconds per call for them (converting
the context and crossing into its runtime), a closure well under one. :func:`translate` parses an
expression of the subset below and returns such a closure, or None for anything else (division,
other functions and macros, unsigned literals), which then runs on the library alone.

Subset: field paths from a root (``payload.op``, ``consent.legal_basis``, ``now``) and a list item
(``payload.types[0]``), literals (integers, decimals such as ``0.9``, quoted strings without escapes,
``true``, ``false``, ``null``), lists of string literals after ``in``, ``has(path)``, ``size(list)``,
``double(number)``, ``duration('<n>h')``, a map literal of string keys to integers indexed at once
(``{'A': 0, 'B': 1}[payload.band]``), ``c ? a : b``, ``+``, ``-``, ``*``, ``!``, ``&&``, ``||``, ``==``,
``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in``, parentheses.

A closure computes a value only where its meaning is plain: a path whose keys all exist, equality of
same-typed strings, booleans, integers or nulls (or a null against a string, boolean or integer),
arithmetic on two integers (within int64) or two doubles, the difference of two timestamps, a
timestamp moved by a duration (within datetime's range), ordering of two integers, two strings, two
doubles (not NaN), two durations, or two dates and timestamps (a date being midnight in
:data:`~crossbound.domain.LOCAL_TZ`, as :mod:`crossbound.rules.cel` converts it), logic over booleans,
a map key that is in the map.
A decimal (an Avro ``decimal``: amounts) is read as the library reads it, as the nearest double.
Anything else (a missing key, a float, mixed types, a non-boolean operand) raises :class:`Fallback`,
and the caller evaluates the expression with the CEL library, so errors and CEL's commutative
``&&``/``||`` keep the library's semantics exactly. ``tests/unit/rules/test_rules_celfast.py`` checks
that the two agree on generated inputs for every expression of the shipped rule sets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import add, ge, gt, le, lt, mul, sub
from typing import Any

from crossbound.domain import LOCAL_TZ
from crossbound.rules.model import Context

__all__ = ["Fallback", "Fast", "translate"]

Fast = Callable[[Context], Any]


class Fallback(Exception):
    """This input is outside what the closure decides: evaluate with the CEL library."""


_FALLBACK = Fallback()
_TOKEN = re.compile(
    r"\s*(?:(?P<float>\d+\.\d+(?![\deEuU]))|(?P<num>\d+(?![\d.eEuU]))|(?P<str>'[^'\\\n]*'|\"[^\"\\\n]*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>&&|\|\||==|!=|<=|>=|[<>!().,\[\]{}?:+*-]))"
)
_KEYWORDS = {"true": True, "false": False, "null": None}
_SIMPLE = (str, bool, int)  # equality with null is False for these, as in the library


class _Unsupported(Exception):
    pass


def _tokens(expr: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise _Unsupported
        pos = m.end()
        kind = m.lastgroup or ""
        text = m.group(kind)
        if kind == "num":
            out.append(("lit", int(text)))
        elif kind == "float":
            out.append(("lit", float(text)))
        elif kind == "str":
            out.append(("lit", text[1:-1]))
        elif kind == "name" and text in _KEYWORDS:
            out.append(("lit", _KEYWORDS[text]))
        else:
            out.append((kind, text))
    out.append(("end", None))
    return out


def _root(name: str) -> Fast:
    if name == "now":
        return lambda ctx: ctx.now
    if name == "consent":
        return lambda ctx: ctx.request.get("consent") or {}
    if name in ("request", "payload"):
        return (lambda ctx: ctx.request) if name == "request" else (lambda ctx: ctx.payload)
    if name == "attestation":
        return lambda ctx: ctx.attestation or {}
    raise _Unsupported


def _decimal(v: Decimal) -> float:
    """An Avro decimal as the library reads it: a double (the nearest, as ``float`` rounds)."""
    if not v.is_finite():
        raise _FALLBACK
    return float(v)


def _step(base: Fast, key: str, top: bool) -> Fast:
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


def _has(base: Fast, key: str) -> Fast:
    def has(ctx: Context) -> bool:
        obj = base(ctx)
        if type(obj) is not dict:
            raise _FALLBACK
        return key in obj

    return has


def _const(value: Any) -> Fast:
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


class _Parser:
    """Precedence climbing over the subset: ``||`` < ``&&`` < relations < ``!`` < paths and literals."""

    def __init__(self, expr: str) -> None:
        self.toks = _tokens(expr)
        self.i = 0

    def peek(self) -> tuple[str, Any]:
        return self.toks[self.i]

    def take(self, kind: str, text: Any = None) -> Any:
        k, t = self.toks[self.i]
        if k != kind or (text is not None and t != text):
            raise _Unsupported
        self.i += 1
        return t

    def parse(self) -> Fast:
        fn = self.conditional()
        self.take("end")
        return fn

    def conditional(self) -> Fast:
        test = self.disjunction()
        if self.peek() != ("op", "?"):
            return test
        self.i += 1
        then = self.conditional()
        self.take("op", ":")
        return _choice(test, then, self.conditional())

    def disjunction(self) -> Fast:
        left = self.conjunction()
        while self.peek() == ("op", "||"):
            self.i += 1
            left = _or(left, self.conjunction())
        return left

    def conjunction(self) -> Fast:
        left = self.relation()
        while self.peek() == ("op", "&&"):
            self.i += 1
            left = _and(left, self.relation())
        return left

    def relation(self) -> Fast:
        left = self.additive()
        kind, text = self.peek()
        if kind == "op" and text in ("==", "!=", "<", "<=", ">", ">="):
            self.i += 1
            right = self.additive()
            left = _compare(text, left, right)
        elif (kind, text) == ("name", "in"):
            self.i += 1
            left = _member(left, self.literal_list())
        if self.peek()[0] == "op" and self.peek()[1] in ("==", "!=", "<", "<=", ">", ">="):
            raise _Unsupported  # chained relations: left to the library
        return left

    def additive(self) -> Fast:
        left = self.multiplicative()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take("op")
            left = _arithmetic(op, left, self.multiplicative())
        return left

    def multiplicative(self) -> Fast:
        left = self.unary()
        while self.peek() == ("op", "*"):
            self.i += 1
            left = _arithmetic("*", left, self.unary())
        return left

    def unary(self) -> Fast:
        if self.peek() == ("op", "!"):
            self.i += 1
            inner = self.unary()
            return lambda ctx: not _boolean(inner(ctx))
        return self.primary()

    def primary(self) -> Fast:
        kind, text = self.peek()
        if kind == "lit":
            self.i += 1
            return _const(text)
        if (kind, text) == ("op", "("):
            self.i += 1
            inner = self.conditional()
            self.take("op", ")")
            return inner
        if (kind, text) == ("op", "{"):
            return self.map_index()
        if kind == "name" and text == "duration" and self.toks[self.i + 1] == ("op", "("):
            self.i += 2
            span = _duration(self.take("lit"))
            self.take("op", ")")
            return _const(span)
        if kind == "name" and text in ("double", "size") and self.toks[self.i + 1] == ("op", "("):
            self.i += 2
            inner = self.conditional()
            self.take("op", ")")
            return _double(inner) if text == "double" else _size(inner)
        if kind == "name" and text == "has":
            self.i += 1
            self.take("op", "(")
            base, key, _ = self.path(need_key=True)
            self.take("op", ")")
            assert key is not None
            return _has(base, key)
        if kind == "name":
            base, key, top = self.path(need_key=False)
            value = base if key is None else _step(base, key, top)
            if self.peek() == ("op", "["):
                self.i += 1
                index = self.take("lit")
                self.take("op", "]")
                if type(index) is not int:
                    raise _Unsupported
                return _item(value, index)
            return value
        raise _Unsupported

    def path(self, need_key: bool) -> tuple[Fast, str | None, bool]:
        """The getter up to a path's last key, that key (None for a bare root), and whether it is a root's."""
        fn = _root(self.take("name"))
        keys = []
        while self.peek() == ("op", "."):
            self.i += 1
            keys.append(self.take("name"))
        if self.peek() == ("op", "("):
            raise _Unsupported  # a method call
        if not keys:
            if need_key:
                raise _Unsupported
            return fn, None, False
        for depth, k in enumerate(keys[:-1]):
            fn = _step(fn, k, depth == 0)
        return fn, keys[-1], len(keys) == 1

    def map_index(self) -> Fast:
        """A map literal of string keys and integer values, indexed at once: ``{'A': 0, ...}[key]``."""
        self.take("op", "{")
        entries: dict[Any, Any] = {}
        while True:
            key = self.take("lit")
            self.take("op", ":")
            value = self.take("lit")
            if type(key) is not str or type(value) is not int or key in entries:
                raise _Unsupported  # a repeated key is an error in CEL: the library says so
            entries[key] = value
            if self.peek() == ("op", ","):
                self.i += 1
                continue
            self.take("op", "}")
            break
        self.take("op", "[")
        index = self.conditional()
        self.take("op", "]")
        return _lookup(entries, index)

    def literal_list(self) -> tuple[Any, ...]:
        self.take("op", "[")
        values = []
        while True:
            values.append(self.take("lit"))
            if self.peek() == ("op", ","):
                self.i += 1
                continue
            self.take("op", "]")
            break
        if not all(type(v) is str for v in values):
            raise _Unsupported
        return tuple(values)


_INT64 = (-(2**63), 2**63 - 1)
_ARITH: dict[str, Callable[[Any, Any], Any]] = {"+": add, "-": sub, "*": mul}


def _arithmetic(op: str, left: Fast, right: Fast) -> Fast:
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


def _double(inner: Fast) -> Fast:
    def double(ctx: Context) -> float:
        v = inner(ctx)
        if type(v) is float:
            return v
        if type(v) is int and abs(v) <= 2**53:  # exactly representable: no rounding question
            return float(v)
        raise _FALLBACK

    return double


def _size(inner: Fast) -> Fast:
    def size(ctx: Context) -> int:
        v = inner(ctx)
        if type(v) is not list:
            raise _FALLBACK
        return len(v)

    return size


def _item(inner: Fast, index: int) -> Fast:
    def item(ctx: Context) -> Any:
        v = inner(ctx)
        if type(v) is not list or not 0 <= index < len(v):
            raise _FALLBACK
        value = v[index]
        return _decimal(value) if type(value) is Decimal else value

    return item


_DURATION = re.compile(r"(\d{1,6})h")


def _duration(text: Any) -> timedelta:
    """``duration('720h')``: whole hours only (the form the rule sets use); anything else: the library."""
    m = _DURATION.fullmatch(text) if type(text) is str else None
    if m is None:
        raise _Unsupported
    return timedelta(hours=int(m[1]))


def _lookup(entries: dict[str, int], index: Fast) -> Fast:
    def lookup(ctx: Context) -> int:
        key = index(ctx)
        if type(key) is not str or key not in entries:  # no such key: an error, the library's
            raise _FALLBACK
        return entries[key]

    return lookup


def _choice(test: Fast, then: Fast, otherwise: Fast) -> Fast:
    return lambda ctx: then(ctx) if _boolean(test(ctx)) else otherwise(ctx)


def _or(left: Fast, right: Fast) -> Fast:
    return lambda ctx: _boolean(left(ctx)) or _boolean(right(ctx))


def _and(left: Fast, right: Fast) -> Fast:
    return lambda ctx: _boolean(left(ctx)) and _boolean(right(ctx))


def _compare(op: str, left: Fast, right: Fast) -> Fast:
    if op == "==":
        return lambda ctx: _equal(left(ctx), right(ctx))
    if op == "!=":
        return lambda ctx: not _equal(left(ctx), right(ctx))
    return _ordered(op, left, right)


def _member(left: Fast, values: tuple[Any, ...]) -> Fast:
    allowed = frozenset(values)

    def member(ctx: Context) -> bool:
        v = left(ctx)
        if type(v) is str:
            return v in allowed
        if v is None:
            return False
        raise _FALLBACK

    return member


def translate(expr: str) -> Fast | None:
    """A closure for ``expr`` when it is in the subset, else None (the library evaluates it)."""
    try:
        return _Parser(expr).parse()
    except _Unsupported:
        return None
