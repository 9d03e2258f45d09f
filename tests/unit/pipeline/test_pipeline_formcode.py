"""The generated form checks (crossbound.pipeline.formcode) find the same first fault as a plain walk.

The reference below is the walk the guard and the input checks did before generation: every check in
order, each value of its field (:meth:`FieldCheck.values`), its tests in order. Records are generated
per shipped schema, each declared field absent, null, a good or a bad string, an int in or out of range,
or a nested map, for the input checks and for the outgoing guard's tests.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from crossbound._data import default_schemas_dir
from crossbound.codec import SchemaRegistry
from crossbound.codec.forms import FieldCheck
from crossbound.pipeline.formcode import Test, compile_faults
from crossbound.pipeline.guard import _guard_tests, _input_tests

REGISTRY = SchemaRegistry.load(default_schemas_dir())


def _reference(checks: list[tuple[FieldCheck, list[Test]]], record: dict[str, Any]) -> tuple[int, str] | None:
    for i, (chk, tests) in enumerate(checks):
        for v in chk.values(record):
            for kind, arg in tests:
                if kind == "form" and (type(v) is not str or arg(v) is None):
                    return i, "form"
                if kind == "range" and (type(v) is not int or not arg[0] <= v <= arg[1]):
                    return i, "range"
                if kind == "digest" and arg(v) is None:
                    return i, "form"
                if kind == "pi" and arg(v) is not None:
                    return i, "pi"
    return None


def _value(rng: random.Random) -> Any:
    return rng.choice(
        [None, "A", "", "a" * 64, "0" * 64, "HK", "2026", "12345678", "9123 4567", 0, 5, 10**7, True, [], {}]
    )


def _build(path: tuple[str, ...], rng: random.Random) -> Any:
    if not path:
        return _value(rng)
    step, rest = path[0], path[1:]
    if rng.random() < 0.05:
        return _value(rng)  # something else where a record, an array or a map belongs
    if step == "[]":
        return [_build(rest, rng) for _ in range(rng.randint(0, 2))]
    if step == "{}":
        return {f"k{i}": _build(rest, rng) for i in range(rng.randint(0, 2))}
    return {step: _build(rest, rng)}


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(into.get(k), dict) and isinstance(v, dict):
            _merge(into[k], v)
        elif k not in into:
            into[k] = v


def _record(checks: list[FieldCheck], rng: random.Random) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for chk in checks:
        if rng.random() < 0.8:
            built = _build(chk.path, rng)
            if isinstance(built, dict):
                _merge(record, built)
    return record


def _outcome(run: Any, *args: Any) -> Any:
    """The first fault, or the error a test raised (a digest's pattern on a non-string, as before)."""
    try:
        return run(*args)
    except TypeError as exc:
        return type(exc)


@pytest.mark.parametrize("subject", sorted(REGISTRY.subjects))
@pytest.mark.parametrize("tests_of", [_input_tests, _guard_tests])
def test_generated_checks_find_the_first_fault_the_walk_finds(subject: str, tests_of: Any) -> None:
    checks = list(REGISTRY.current(subject).checks)
    planned = [(c, tests_of(c)) for c in checks]
    fault = compile_faults(planned)
    rng = random.Random(subject)
    faults = 0
    for _ in range(200):
        record = _record(checks, rng)
        expected = _outcome(_reference, planned, record)
        assert _outcome(fault, record) == expected, (subject, record)
        faults += expected is not None
    if any(tests for _, tests in planned):
        assert faults > 0
