"""The evaluation engine (crossbound.rules.engine): findings, rule errors, the ``when`` policy, and
outcome precedence (crossbound.rules.model)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from rules_builders import PCN, ctx, make_rule, pcn_payload

from crossbound.rules import (
    Catalogue,
    Context,
    Finding,
    Outcome,
    Rule,
    RuleSet,
    Severity,
    evaluate,
    outcome_of,
)
from crossbound.rules.engine import applies, counts


def _boom(c: Context) -> list[tuple[str, str]]:
    raise KeyError("payload.x")


def test_evaluate_maps_failures_to_findings() -> None:
    rules = [
        make_rule("R-1", lambda c: [("payload.a", "A"), ("payload.b", "B")], Severity.REVIEW),
        make_rule("R-2", lambda c: []),
        make_rule("R-3", lambda c: [("payload.c", "C")], Severity.WARN),
    ]
    assert evaluate(rules, ctx()) == [
        Finding("R-1", Severity.REVIEW, "payload.a", "A"),
        Finding("R-1", Severity.REVIEW, "payload.b", "B"),
        Finding("R-3", Severity.WARN, "payload.c", "C"),
    ]


@pytest.mark.parametrize("severity", list(Severity))
def test_evaluate_rule_error(severity: Severity) -> None:
    errors: list[tuple[str, BaseException]] = []
    rules = [make_rule("R-1", _boom, severity), make_rule("R-2", lambda c: [("payload.y", "Y")])]
    findings = evaluate(rules, ctx(), on_error=lambda r, e: errors.append((r.id, e)))
    assert findings == [
        Finding("R-1", severity, "payload.x", "RULE_ERROR"),
        Finding("R-2", Severity.REJECT, "payload.y", "Y"),
    ]
    assert len(errors) == 1
    assert errors[0][0] == "R-1"
    assert isinstance(errors[0][1], KeyError)


def test_evaluate_rule_error_without_fields_or_callback() -> None:
    findings = evaluate([make_rule("R-1", _boom, Severity.REVIEW, fields=())], ctx())
    assert findings == [Finding("R-1", Severity.REVIEW, "", "RULE_ERROR")]


def test_evaluate_when_false_skips_the_rule() -> None:
    calls: list[str] = []

    def fn(c: Context) -> list[tuple[str, str]]:
        calls.append("ran")
        return [("payload.x", "X")]

    assert evaluate([make_rule("R-1", fn, when=lambda c: False)], ctx()) == []
    assert calls == []
    assert evaluate([make_rule("R-1", fn, when=lambda c: True)], ctx()) == [
        Finding("R-1", Severity.REJECT, "payload.x", "X")
    ]
    assert calls == ["ran"]


def test_evaluate_when_that_raises_is_a_rule_error() -> None:
    def when(c: Context) -> bool:
        raise ValueError("broken precondition")

    errors: list[str] = []
    findings = evaluate(
        [make_rule("R-1", lambda c: [], Severity.WARN, when=when)],
        ctx(),
        on_error=lambda r, e: errors.append(r.id),
    )
    assert findings == [Finding("R-1", Severity.WARN, "payload.x", "RULE_ERROR")]
    assert errors == ["R-1"]


def test_evaluate_real_cel_rule_error(catalogue: Catalogue) -> None:
    # PCN-01 reads payload.payer_hkid_holder: a payload without it makes CEL fail, which must not pass.
    rs: RuleSet = catalogue.scenarios[PCN]
    pcn01 = next(r for r in rs.rules if r.id == "PCN-01")
    errors: list[str] = []
    payload = pcn_payload()
    del payload["payer_hkid_holder"]
    findings = evaluate([pcn01], ctx(payload=payload), on_error=lambda r, e: errors.append(r.id))
    assert findings == [Finding("PCN-01", Severity.REJECT, "payload.payer_hkid_holder", "RULE_ERROR")]
    assert errors == ["PCN-01"]


def _f(severity: Severity) -> Finding:
    return Finding("R", severity, "payload.x", "C")


@pytest.mark.parametrize(
    ("severities", "outcome"),
    [
        ([], Outcome.ACCEPT),
        ([Severity.WARN], Outcome.ACCEPT),
        ([Severity.WARN, Severity.WARN], Outcome.ACCEPT),
        ([Severity.REVIEW], Outcome.REVIEW),
        ([Severity.WARN, Severity.REVIEW], Outcome.REVIEW),
        ([Severity.REVIEW, Severity.WARN], Outcome.REVIEW),
        ([Severity.REJECT], Outcome.REJECT),
        ([Severity.REVIEW, Severity.REJECT], Outcome.REJECT),
        ([Severity.REJECT, Severity.REVIEW], Outcome.REJECT),
        ([Severity.WARN, Severity.REVIEW, Severity.REJECT, Severity.WARN], Outcome.REJECT),
    ],
)
def test_outcome_of(severities: list[Severity], outcome: Outcome) -> None:
    assert outcome_of([_f(s) for s in severities]) is outcome


def test_finding_as_record() -> None:
    assert Finding("SBCCR-02", Severity.REJECT, "payload.report_digest", "DIGEST_MISMATCH").as_record() == {
        "rule_id": "SBCCR-02",
        "severity": "REJECT",
        "field": "payload.report_digest",
        "code": "DIGEST_MISMATCH",
    }


def _raise(c: Context) -> bool:
    raise ValueError("broken precondition")


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        pytest.param(None, True, id="no-when"),
        pytest.param(lambda c: True, True, id="holds"),
        pytest.param(lambda c: False, False, id="does-not-hold"),
        # the same failure evaluate() reports as RULE_ERROR: the rule takes part, so it is reported
        pytest.param(_raise, True, id="raises"),
    ],
)
def test_applies_is_the_when_policy_of_evaluate(
    when: Callable[[Context], bool] | None, expected: bool
) -> None:
    rule = make_rule("R-1", lambda c: [("payload.x", "X")], when=when)
    assert applies(rule, ctx()) is expected
    assert bool(evaluate([rule], ctx())) is expected  # it reports X or RULE_ERROR exactly when it applies


def test_a_stateful_rule_counts_under_count_when_and_is_judged_under_when() -> None:
    def gate(name: str) -> Callable[[Context], bool]:
        return lambda c: bool(c.payload.get(name))

    rule = Rule(
        "Q", "quota", Severity.REJECT, "quota", (), "", "", {}, lambda c: [], gate("judge"), gate("count")
    )
    for judge, count, takes_part in (
        (True, True, True),
        (False, True, True),
        (True, False, True),
        (False, False, False),
    ):
        c = Context(request={}, payload={"judge": judge, "count": count}, now=datetime.now(UTC))
        assert (applies(rule, c), counts(rule, c)) == (takes_part, count)
    plain = Rule("P", "quota", Severity.REJECT, "quota", (), "", "", {}, lambda c: [], gate("judge"))
    c = Context(request={}, payload={"judge": False}, now=datetime.now(UTC))
    assert (applies(plain, c), counts(plain, c)) == (False, False)  # without count_when, when gates both
