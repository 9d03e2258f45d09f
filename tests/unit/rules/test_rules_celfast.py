"""The Python form of CEL expressions (crossbound.rules.celfast) agrees with the CEL library.

For every ``when`` and ``cel`` expression of the shipped rule sets, generated contexts (each path it
reads absent, null, or holding a boolean, integer, float, decimal, string, date, timestamp, list or map, the
expression's own literals among the strings) are evaluated both ways: wherever the Python form
decides, it returns what the library returns; where the library raises, the Python form does not
decide; and a compiled program's answer (Python form, else library) is the library's, errors included.
"""

from __future__ import annotations

import random
import re
import tomllib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_builders import RULESETS

from crossbound.domain import LOCAL_TZ
from crossbound.rules.cel import CelProgram, cel_context
from crossbound.rules.celfast import Fallback, translate
from crossbound.rules.model import Context

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
_PATH = re.compile(r"\b(request|payload|attestation|consent)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
_LITERAL = re.compile(r"'([^']*)'")


def _shipped() -> list[str]:
    exprs: set[str] = set()
    for path in sorted(RULESETS.glob("*.toml")):
        for rule in tomllib.loads(path.read_text()).get("rules", []):
            for expr in (rule.get("when"), rule.get("params", {}).get("expr")):
                if isinstance(expr, str):
                    exprs.add(expr)
    return sorted(exprs)


SHIPPED = _shipped()
TRANSLATED = [e for e in SHIPPED if translate(e) is not None]


def _values(rng: random.Random, literals: list[str]) -> Any:
    day = date(2026, 6, 1) + timedelta(days=rng.randint(-3, 3))
    pool: list[Any] = [
        None,
        True,
        False,
        rng.randint(-3, 30),
        rng.randint(-3, 30),
        rng.choice([0, 1, 2, 9, 10, 2**53 + 1, 2**63 - 1]),
        rng.choice([0.5, 1.0, 2.0, -1.0, 49999.5, float("nan"), float("inf")]),
        rng.choice([Decimal("0.00"), Decimal("4999.99"), Decimal("1234567890123456.78"), Decimal("NaN")]),
        Decimal(rng.randint(-(10**8), 10**8)).scaleb(-2),  # an Avro decimal: an amount
        *(rng.choice(literals) if literals else "X" for _ in range(3)),  # map keys: both sides one
        rng.choice(["", "X", "OTHER", "2025-26"]),
        day,
        datetime(day.year, day.month, day.day, rng.randint(0, 23), tzinfo=rng.choice([UTC, LOCAL_TZ])),
        datetime(day.year, day.month, day.day),  # naive
        NOW + timedelta(hours=rng.randint(-48, 48)),
        [rng.choice(literals or ["X"]) for _ in range(rng.randint(0, 6))],
        [rng.choice([*(literals or ["X"]), 1, None]) for _ in range(rng.randint(1, 3))],
        {"k": 1},
    ]
    return rng.choice(pool)


def _context(expr: str, rng: random.Random) -> Context:
    literals = _LITERAL.findall(expr)
    roots: dict[str, dict[str, Any]] = {"request": {}, "payload": {}, "attestation": {}, "consent": {}}
    for root, rest in _PATH.findall(expr):
        keys = rest[1:].split(".")
        node = roots[root]
        for k in keys[:-1]:
            node = node.setdefault(k, {}) if rng.random() < 0.9 else node
        if rng.random() < 0.92:  # else the key is absent
            node[keys[-1]] = _values(rng, literals)
    request: dict[str, Any] = dict(roots["request"])
    if rng.random() < 0.9:
        request["consent"] = roots["consent"]
    attestation = roots["attestation"] if rng.random() < 0.95 else None
    now = NOW + timedelta(hours=rng.randint(-72, 72))
    return Context(request=request, payload=roots["payload"], now=now, attestation=attestation)


def _library(prog: CelProgram, ctx: Context) -> tuple[str, Any]:
    try:
        result = prog.program.execute(cel_context(ctx, prog.roots))
    except Exception as exc:  # the library's errors are part of what must agree
        return "error", type(exc)
    return "value", (type(result), result)


def _agree(expr: str, ctx: Context) -> bool:
    """Check one context; True when the Python form decided it."""
    prog = CelProgram(expr)
    assert prog.fast is not None
    expected = _library(prog, ctx)
    try:
        got = prog.fast(Context(ctx.request, ctx.payload, ctx.now, ctx.attestation))
    except Fallback:
        decided = False
    else:
        assert expected == ("value", (type(got), got)), (expr, ctx)
        decided = True
    try:
        called: tuple[str, Any] = "value", (type(r := prog(ctx)), r)
    except Exception as exc:
        called = "error", type(exc)
    assert called == expected, (expr, ctx)
    return decided


def test_every_shipped_expression_translates() -> None:
    """Durations, map literals, ternaries and decimals included: no rule of the shipped sets needs the
    library for plainly typed values."""
    assert TRANSLATED == SHIPPED


@pytest.mark.parametrize("expr", TRANSLATED)
def test_python_form_agrees_with_the_library_on_seeded_inputs(expr: str) -> None:
    rng = random.Random(expr)
    decided = sum(_agree(expr, _context(expr, rng)) for _ in range(300))
    assert decided > 0  # the Python form does take part


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(TRANSLATED), st.integers(min_value=0, max_value=2**32))
def test_python_form_agrees_with_the_library(expr: str, seed: int) -> None:
    _agree(expr, _context(expr, random.Random(seed)))


@pytest.mark.parametrize(
    "expr",
    [
        "payload.a / 2 > 1",
        "-payload.a > 1",
        "payload.a % 2 == 0",
        "1.5e3 > payload.a",
        "{1: 'A'}[payload.a] == 'A'",  # a map literal of other than string keys to integers
        "{'A': 1, 'A': 2}[payload.a] > 0",
        "payload.xs[0].f == 'A'",
        "payload.a - now <= duration('90m')",  # a duration of other than whole hours
        "payload.a ? 1u : 2u",
        "payload.a == 'it\\'s'",
        "payload.xs.all(x, x == 'A')",
        "payload.a == 1u",
        "payload.a < payload.b < payload.c",
    ],
)
def test_outside_the_subset_the_library_alone_evaluates(expr: str) -> None:
    assert translate(expr) is None


def test_fallback_keeps_the_library_semantics() -> None:
    """A missing key, mixed types, CEL's commutative && all come from the library."""
    ctx = Context(request={}, payload={"n": 1.0, "s": "A"}, now=NOW)
    assert CelProgram("payload.missing == 'A' && false")(ctx) is False
    assert CelProgram("payload.n == 1")(ctx) is True  # a float against an int: the library's equality
    with pytest.raises(KeyError):
        CelProgram("payload.missing == 'A'")(ctx)
    with pytest.raises(TypeError):
        CelProgram("!payload.s")(ctx)
    big = Context(request={}, payload={"n": 2**63 - 1}, now=NOW)
    with pytest.raises(OverflowError):  # int64 arithmetic overflows in CEL: the library reports it
        CelProgram("payload.n + 1 > 0")(big)
    with pytest.raises(OverflowError):
        CelProgram("payload.n * 2 > 0")(big)


def test_decimals_are_decided_as_the_library_reads_them() -> None:
    """An amount (Avro decimal) is a double to the library: the Python form reads it so, and decides."""
    amounts = {
        "a": Decimal("4999.99"),
        "b": Decimal("1234567890123456.78"),
        "c": Decimal("1234567890123456.79"),
    }
    ctx = Context(request={}, payload=amounts, now=NOW)
    for expr, value in (
        ("double(payload.a) * 1.0 + 0.01 <= 5000.0", True),
        ("payload.b >= payload.c", True),  # one double apart as decimals, the same double
    ):
        prog = CelProgram(expr)
        assert prog.fast is not None
        assert prog.fast(ctx) is value
        assert prog.program.execute(cel_context(ctx, prog.roots)) is value


def test_a_fallback_keeps_no_frames_of_the_contexts_it_left() -> None:
    """The Python form signals "ask the library" with one shared exception: its traceback must not grow
    with every fallback (it would keep each request's context alive for the life of the process)."""
    prog = CelProgram("payload.n == 1")  # a float: the Python form falls back to the library
    ctx = Context(request={}, payload={"n": 1.0}, now=NOW)
    for _ in range(50):
        assert prog(ctx) is True
    shared: list[BaseException] = []
    try:
        assert prog.fast is not None
        prog.fast(ctx)
    except Fallback as exc:
        shared.append(exc)
    assert shared, "the Python form should fall back on a float"
    depth, tb = 0, shared[0].__traceback__
    while tb is not None:
        depth, tb = depth + 1, tb.tb_next
    assert depth <= 3  # this raise's own frames only, not 50 earlier ones
