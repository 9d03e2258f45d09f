"""The CEL forms the rule sets use, translated to Python closures that agree with the CEL library.

A rule's ``when`` and most ``cel`` checks are comparisons of one field with a literal, joined by
``&&``, ``||`` and ``!``: the CEL library takes tens of microseconds per call for them (converting
the context and crossing into its runtime), a closure well under one. :func:`translate` parses an
expression of the subset below and returns such a closure, or None for anything else (division,
other functions and macros, unsigned literals), which then runs on the library alone.
This module parses; the closures it assembles, one per operator, are in
:mod:`crossbound.rules.celops`.

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
from datetime import timedelta
from typing import Any

from crossbound.rules import celops as ops
from crossbound.rules.celops import Fallback, Fast

__all__ = ["Fallback", "Fast", "translate"]

_TOKEN = re.compile(
    r"\s*(?:(?P<float>\d+\.\d+(?![\deEuU]))|(?P<num>\d+(?![\d.eEuU]))|(?P<str>'[^'\\\n]*'|\"[^\"\\\n]*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>&&|\|\||==|!=|<=|>=|[<>!().,\[\]{}?:+*-]))"
)
_KEYWORDS = {"true": True, "false": False, "null": None}


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


_DURATION = re.compile(r"(\d{1,6})h")


def _duration(text: Any) -> timedelta:
    """``duration('720h')``: whole hours only (the form the rule sets use); anything else: the library."""
    m = _DURATION.fullmatch(text) if type(text) is str else None
    if m is None:
        raise _Unsupported
    return timedelta(hours=int(m[1]))


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
        return ops.choice(test, then, self.conditional())

    def disjunction(self) -> Fast:
        left = self.conjunction()
        while self.peek() == ("op", "||"):
            self.i += 1
            left = ops.either(left, self.conjunction())
        return left

    def conjunction(self) -> Fast:
        left = self.relation()
        while self.peek() == ("op", "&&"):
            self.i += 1
            left = ops.both(left, self.relation())
        return left

    def relation(self) -> Fast:
        left = self.additive()
        kind, text = self.peek()
        if kind == "op" and text in ("==", "!=", "<", "<=", ">", ">="):
            self.i += 1
            right = self.additive()
            left = ops.compare(text, left, right)
        elif (kind, text) == ("name", "in"):
            self.i += 1
            left = ops.member(left, self.literal_list())
        if self.peek()[0] == "op" and self.peek()[1] in ("==", "!=", "<", "<=", ">", ">="):
            raise _Unsupported  # chained relations: left to the library
        return left

    def additive(self) -> Fast:
        left = self.multiplicative()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take("op")
            left = ops.arithmetic(op, left, self.multiplicative())
        return left

    def multiplicative(self) -> Fast:
        left = self.unary()
        while self.peek() == ("op", "*"):
            self.i += 1
            left = ops.arithmetic("*", left, self.unary())
        return left

    def unary(self) -> Fast:
        if self.peek() == ("op", "!"):
            self.i += 1
            return ops.negation(self.unary())
        return self.primary()

    def primary(self) -> Fast:
        kind, text = self.peek()
        if kind == "lit":
            self.i += 1
            return ops.const(text)
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
            return ops.const(span)
        if kind == "name" and text in ("double", "size") and self.toks[self.i + 1] == ("op", "("):
            self.i += 2
            inner = self.conditional()
            self.take("op", ")")
            return ops.double(inner) if text == "double" else ops.size(inner)
        if kind == "name" and text == "has":
            self.i += 1
            self.take("op", "(")
            base, key, _ = self.path(need_key=True)
            self.take("op", ")")
            assert key is not None
            return ops.has(base, key)
        if kind == "name":
            base, key, top = self.path(need_key=False)
            value = base if key is None else ops.step(base, key, top)
            if self.peek() == ("op", "["):
                self.i += 1
                index = self.take("lit")
                self.take("op", "]")
                if type(index) is not int:
                    raise _Unsupported
                return ops.item(value, index)
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
            fn = ops.step(fn, k, depth == 0)
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
        return ops.lookup(entries, index)

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


def translate(expr: str) -> Fast | None:
    """A closure for ``expr`` when it is in the subset, else None (the library evaluates it)."""
    try:
        return _Parser(expr).parse()
    except _Unsupported:
        return None
