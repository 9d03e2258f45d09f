"""CEL expressions over a request: compiled once per rule, evaluated against a context.

Rules use CEL three ways: the ``cel`` check (``params.expr``), a rule's ``when`` precondition, and a
common rule's ``applies_if`` (over ``scenario`` only, at load time). A program reads a few roots
(``request``, ``payload``, ``attestation``, ``consent``, ``now``); :func:`cel_context` converts each
root once per context and shares it between the programs of one request. Avro dates become
midnight in :data:`~crossbound.domain.LOCAL_TZ`, so CEL compares them with timestamps as the local
calendar day they are.

Every ``when`` and ``cel`` check of the shipped rule sets also has a Python form
(:mod:`crossbound.rules.celfast`; ``tests/unit/rules/test_rules_celfast.py`` fails if one has not),
which a program runs first: it answers where the values are plainly typed and otherwise hands the
expression to the library, converting nothing it does not read. An expression outside that subset
(a rule set's own) runs on the library alone, and so does ``applies_if``, which reads ``scenario``
and runs once per load.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import cel

from crossbound.domain import LOCAL_TZ
from crossbound.rules.celfast import Fallback, translate
from crossbound.rules.model import Context

__all__ = ["CEL_ROOTS", "CelProgram", "cel_context", "compile_cel"]

CEL_ROOTS = frozenset({"request", "payload", "attestation", "consent", "now"})
# a macro's bound variable, e.g. `t` in `xs.all(t, t in [...])`: not a root the program reads
_MACRO_VAR = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")


def _cel_value(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=LOCAL_TZ)
    return value


def _cel_mapping(obj: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {k: _cel_value(v) for k, v in obj.items()}


def _cel_root(ctx: Context, name: str) -> Any:
    if name == "now":
        return ctx.now
    if name == "consent":
        return _cel_mapping(ctx.request.get("consent")) or {}
    return _cel_mapping(ctx.root(name)) or {}


def cel_context(ctx: Context, roots: tuple[str, ...]) -> dict[str, Any]:
    """The CEL variables a program reads, converted once per context and shared by its CEL rules.

    Only the roots an expression references are converted: converting the whole envelope for a
    rule that reads one payload field would cost ten times the evaluation.
    """
    cache = ctx.cel_cache
    if cache is None:
        cache = ctx.cel_cache = {}
    for name in roots:
        if name not in cache:
            cache[name] = _cel_root(ctx, name)
    if len(roots) == len(cache):
        return cache
    return {name: cache[name] for name in roots}


class CelProgram:
    """A CEL expression compiled once; call it with a context."""

    __slots__ = ("expr", "fast", "program", "roots")

    def __init__(self, expr: str, roots: frozenset[str] = CEL_ROOTS) -> None:
        try:
            self.program = cel.compile(expr)
        except ValueError as exc:
            raise ValueError(f"CEL does not compile: {exc}") from None
        self.expr = expr
        self.fast = translate(expr)  # the Python form of the common subset, or None
        bound = set(_MACRO_VAR.findall(expr))
        self.roots: tuple[str, ...] = tuple(v for v in self.program.variables() if v not in bound)
        unknown = set(self.roots) - roots
        if unknown:
            raise ValueError(f"CEL reads unknown variables {sorted(unknown)}; allowed: {sorted(roots)}")

    def __call__(self, ctx: Context) -> Any:
        """The expression's value: from its Python form where that decides, else from the library."""
        if self.fast is not None:
            try:
                return self.fast(ctx)
            except Fallback as shared:
                # one shared instance: a raise adds its frames to the instance's traceback, which would
                # grow with every fallback and keep each context (a request's values) alive
                shared.__traceback__ = None
        return self.program.execute(cel_context(ctx, self.roots))


def compile_cel(expr: str, roots: frozenset[str] = CEL_ROOTS) -> CelProgram:
    """Compile a CEL expression once; the result evaluates it against a context."""
    return CelProgram(expr, roots)
