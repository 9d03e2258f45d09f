"""Evaluate compiled rules against a context."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from crossbound.rules.model import Context, Finding, Rule

__all__ = ["evaluate"]

OnError = Callable[[Rule, BaseException], None]


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
