"""Evaluate compiled rules against a context, and the one policy for a rule's ``when``.

A ``when`` that holds, or that fails, makes its rule apply: :func:`evaluate` then reports the failure
as a ``RULE_ERROR`` finding, and :func:`applies` (what the stateful stage asks before counting a
request) answers True, so a broken precondition is reported, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from crossbound.rules.model import Context, Finding, Rule

__all__ = ["applies", "evaluate"]

OnError = Callable[[Rule, BaseException], None]


def applies(rule: Rule, ctx: Context) -> bool:
    """Whether ``rule`` takes part for ``ctx``: no ``when``, a ``when`` that holds, or one that raises."""
    if rule.when is None:
        return True
    try:
        return rule.when(ctx)
    except Exception:  # noqa: BLE001  evaluate() turns the same failure into a RULE_ERROR finding
        return True


def evaluate(rules: Iterable[Rule], ctx: Context, on_error: OnError | None = None) -> list[Finding]:
    """Run ``rules`` in order and return their findings.

    A rule that raises does not pass silently: it yields a ``RULE_ERROR`` finding with the rule's own
    severity, and ``on_error`` is told (the worker counts it in ``crossbound_rule_errors_total``).
    """
    findings: list[Finding] = []
    for rule in rules:
        try:
            if rule.when is not None and not rule.when(ctx):
                continue
            failures = rule.fn(ctx)
        except Exception as exc:  # noqa: BLE001  a broken rule must become a finding, never a crash
            findings.append(
                Finding(rule.id, rule.severity, rule.fields[0] if rule.fields else "", "RULE_ERROR")
            )
            if on_error is not None:
                on_error(rule, exc)
            continue
        for field, code in failures:
            findings.append(Finding(rule.id, rule.severity, field, code))
    return findings
