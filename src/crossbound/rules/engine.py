"""Evaluate compiled rules against a context, and the one policy for a rule's ``when`` and ``count_when``.

A ``when`` that holds, or that fails, makes its rule apply: :func:`evaluate` then reports the failure
as a ``RULE_ERROR`` finding, and :func:`applies` (what the stateful stage asks before counting a
request) answers True, so a broken precondition is reported, never silently skipped.

A stateful rule may count under another condition than the one it is judged under: ``when`` says
which requests it judges, ``count_when`` (default: ``when``) which it counts into its window. C10's
exemption threshold counts every subject sent under a non-exempt basis and judges only those sent on
consent alone; a WMC channel quota counts every remittance of its channel and judges only while both
channels are used. A request judged but not counted is compared as if it were counted (the total
after it), and leaves the window as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from crossbound.rules.model import Context, Finding, Rule, WhenFn

__all__ = ["applies", "counts", "evaluate"]

OnError = Callable[[Rule, BaseException], None]


def _holds(gate: WhenFn | None, ctx: Context) -> bool:
    if gate is None:
        return True
    try:
        return gate(ctx)
    except Exception:  # noqa: BLE001  evaluate() turns the same failure into a RULE_ERROR finding
        return True


def applies(rule: Rule, ctx: Context) -> bool:
    """Whether ``rule`` takes part for ``ctx``: it judges it (``when``) or counts it (``count_when``)."""
    return _holds(rule.when, ctx) or (rule.count_when is not None and _holds(rule.count_when, ctx))


def counts(rule: Rule, ctx: Context) -> bool:
    """Whether a stateful ``rule`` adds ``ctx``'s request to its window: ``count_when``, else ``when``."""
    return _holds(rule.when if rule.count_when is None else rule.count_when, ctx)


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
