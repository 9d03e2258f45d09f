"""A schema's form checks as one generated Python function, built once per schema at start-up.

The input checks (:func:`~crossbound.pipeline.guard.refuse_input`) and the outgoing guard run every
declared field's tests on every record: walked generically, that is a loop, a few attribute reads and
calls per field; generated, it is a straight run of ``dict.get`` and bound ``fullmatch`` calls, with
each test exactly as :class:`~crossbound.codec.forms.FieldCheck` defines it and in the same order, so
the first fault found is the same one.

A plain path (field names only) is read as :meth:`FieldCheck.values` reads it: each step ``.get`` on a
dict, anything else or a null ending it with no value. Other paths (array items, map values) are
nested loops visiting the values :meth:`FieldCheck.values` returns, in its order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crossbound.codec.forms import FieldCheck

__all__ = ["Fault", "Test", "compile_faults"]

Fault = Callable[[Mapping[str, Any]], "tuple[int, str] | None"]
# one field's tests, in order: ("form", fullmatch), ("range", (lo, hi)), ("digest", fullmatch), ("pi", scan)
Test = tuple[str, Any]


def _tests(index: int, tests: Sequence[Test], env: dict[str, Any], pad: str) -> list[str]:
    lines = []
    for j, (kind, arg) in enumerate(tests):
        name = f"t{index}_{j}"
        env[name] = arg
        if kind == "form":
            lines.append(f"{pad}if type(v) is not str or {name}(v) is None: return {index}, 'form'")
        elif kind == "range":
            lines.append(
                f"{pad}if type(v) is not int or not {name}[0] <= v <= {name}[1]: return {index}, 'range'"
            )
        elif kind == "digest":
            lines.append(f"{pad}if {name}(v) is None: return {index}, 'form'")
        else:
            lines.append(f"{pad}if {name}(v) is not None: return {index}, 'pi'")
    return lines


def _walk(path: Sequence[str], body: list[str]) -> str:
    """Nested loops over a path with array items or map values, visiting the values in
    :meth:`FieldCheck.values`'s order (depth first is its level-by-level order), nulls skipped; the
    indent the tests go at."""
    pad, here = "    ", "record"
    for depth, step in enumerate(path):
        var = "v" if depth == len(path) - 1 else f"w{depth}"
        if step == "[]":  # a list's items; on a dict, as values() does, its "[]" entry
            on_dict = f"({here}.get('[]'),) if isinstance({here}, dict) else ()"
            source = f"{here} if isinstance({here}, list) else {on_dict}"
        elif step == "{}":
            source = f"{here}.values() if isinstance({here}, dict) else ()"
        else:
            source = f"({here}.get({step!r}),) if isinstance({here}, dict) else ()"
        body.append(f"{pad}for {var} in ({source}):")
        pad += "    "
        body.append(f"{pad}if {var} is not None:")
        pad += "    "
        here = var
    return pad


def compile_faults(checks: Sequence[tuple[FieldCheck, Sequence[Test]]]) -> Fault:
    """A function returning the index of the first check whose value fails, and the fault, or None."""
    env: dict[str, Any] = {}
    body = ["def fault(record):"]
    for i, (chk, tests) in enumerate(checks):
        if not tests:
            continue
        if chk.simple:
            first, *rest = chk.path
            body.append(f"    v = record.get({first!r}) if isinstance(record, dict) else None")
            pad = "    "
            for step in rest:
                body.append(f"{pad}if v is not None:")
                pad += "    "
                body.append(f"{pad}v = v.get({step!r}) if isinstance(v, dict) else None")
            body.append(f"{pad}if v is not None:")
            body.extend(_tests(i, tests, env, pad + "    "))
        else:
            pad = _walk(chk.path, body)
            body.extend(_tests(i, tests, env, pad))
    body.append("    return None")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(body), "<form checks>", "exec"), env, namespace)  # noqa: S102  our own code
    fn: Fault = namespace["fault"]
    return fn
