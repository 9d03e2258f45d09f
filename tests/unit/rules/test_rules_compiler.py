"""Compiling one [[rules]] table (crossbound.rules.compiler): every fault is a RuleSetError naming the
file and the rule; what a compiled rule carries (its id reaches its check, a shared ``when`` runs once)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from rules_builders import PCN, SB, append, assert_names, ctx, load_error, pcn_payload, replace

from crossbound.codec import SchemaRegistry
from crossbound.rules import Catalogue, Context, evaluate, load_catalogue
from crossbound.rules.compiler import request_memo

BROKEN_RULES = [
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-01"
severity = "reject"
check = "no_such_check"
fields = ["payload.subject_uscc"]
""",
        "BROKEN-01",
        id="unknown-check",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-02"
severity = "fatal"
check = "required"
fields = ["payload.subject_uscc"]
""",
        "BROKEN-02",
        id="bad-severity",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-03"
severity = "reject"
check = "required"
fields = ["payload.no_such_field"]
""",
        "BROKEN-03",
        id="unknown-payload-field",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-04"
stage = "attestation"
severity = "reject"
check = "required"
fields = ["attestation.no_such_field"]
""",
        "BROKEN-04",
        id="unknown-attestation-field",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-05"
severity = "reject"
check = "required"
fields = ["request.no_such_field"]
""",
        "BROKEN-05",
        id="unknown-request-field",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-06"
severity = "reject"
check = "required"
fields = ["body.subject_uscc"]
""",
        "BROKEN-06",
        id="unknown-root",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-07"
severity = "reject"
check = "required"
fields = ["attestation.report_digest"]
""",
        "BROKEN-07",
        id="attestation-field-in-request-stage",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-08"
stage = "request"
severity = "reject"
check = "digest_match"
fields = ["payload.report_digest"]
params = { against = "attestation.report_digest" }
""",
        "BROKEN-08",
        id="attestation-param-in-request-stage",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-09"
severity = "reject"
check = "cel"
fields = ["payload.facility_ccy"]
params = { expr = "payload.facility_ccy ==", code = "X" }
""",
        "BROKEN-09",
        id="cel-syntax",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-10"
severity = "reject"
check = "cel"
fields = ["payload.facility_ccy"]
params = { expr = "secrets.key == 'x'", code = "X" }
""",
        "BROKEN-10",
        id="cel-unknown-variable",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-11"
severity = "reject"
check = "required"
fields = ["payload.facility_ccy"]
when = "payload.facility_ccy =="
""",
        "BROKEN-11",
        id="when-syntax",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-12"
severity = "reject"
check = "required"
fields = ["payload.facility_ccy"]
when = "env.debug == true"
""",
        "BROKEN-12",
        id="when-unknown-variable",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "SBCCR-01"
severity = "reject"
check = "required"
fields = ["payload.subject_uscc"]
""",
        "SBCCR-01",
        id="duplicate-id",
    ),
    pytest.param(
        f"{PCN}.toml",
        """[[rules]]
id = "BROKEN-14"
stage = "attestation"
severity = "reject"
check = "quota"
fields = ["payload.amount_hkd"]
params = { key = "payload.payer_hkid_hmac", amount = "payload.amount_hkd", window = "day", limit = "1" }
""",
        "BROKEN-14",
        id="quota-outside-quota-stage",
    ),
    pytest.param(
        f"{PCN}.toml",
        """[[rules]]
id = "BROKEN-15"
stage = "quota"
severity = "reject"
check = "range"
fields = ["payload.amount_hkd"]
params = { min = "1" }
""",
        "BROKEN-15",
        id="non-quota-in-quota-stage",
    ),
    pytest.param(
        f"{PCN}.toml",
        """[[rules]]
id = "BROKEN-16"
stage = "quota"
severity = "reject"
check = "quota"
fields = ["payload.amount_hkd"]
params = { key = "payload.payer_hkid_hmac", amount = "payload.amount_hkd", window = "week", limit = "1" }
""",
        "BROKEN-16",
        id="quota-bad-window",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-17"
severity = "reject"
check = "pattern"
fields = ["payload.facility_ccy"]
params = { regex = "[A-Z" }
""",
        "BROKEN-17",
        id="bad-regex",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-18"
severity = "reject"
sevrity = "reject"
check = "required"
fields = ["payload.facility_ccy"]
""",
        "BROKEN-18",
        id="unknown-rule-key",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-19"
stage = "later"
severity = "reject"
check = "required"
fields = ["payload.facility_ccy"]
""",
        "BROKEN-19",
        id="bad-stage",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-20"
severity = "reject"
check = "identifier"
fields = ["payload.subject_uscc"]
params = { kind = "ssn" }
""",
        "BROKEN-20",
        id="unknown-identifier-kind",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-21"
severity = "reject"
check = "range"
fields = ["payload.facility_amount"]
""",
        "BROKEN-21",
        id="range-without-bounds",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-22"
severity = "reject"
check = "consent"
params = { purpose_field = "payload.no_such_field" }
""",
        "BROKEN-22",
        id="consent-unknown-purpose-field",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-23"
severity = "reject"
check = "required"
fields = "payload.facility_ccy"
""",
        "BROKEN-23",
        id="fields-not-a-list",
    ),
    pytest.param(
        "envelope.toml",
        """[[rules]]
id = "BROKEN-24"
severity = "reject"
check = "required"
applies_if = "scenario.personal_data && payload.x"
fields = ["request.nonce"]
""",
        "BROKEN-24",
        id="envelope-applies-if-reads-more-than-the-scenario",
    ),
    pytest.param(
        "envelope.toml",
        """[[rules]]
id = "BROKEN-25"
severity = "reject"
check = "required"
fields = ["payload.subject_uscc"]
""",
        "BROKEN-25",
        id="envelope-rule-reads-payload",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
severity = "reject"
check = "required"
fields = ["payload.subject_uscc"]
""",
        None,
        id="rule-without-id",
    ),
    pytest.param(
        f"{PCN}.toml",
        """[[rules]]
id = "PCN-97"
stage = "quota"
severity = "reject"
check = "quota"
params = { key = "attestation.payee_acct_hmac", window = "day", limit = 1 }
""",
        "PCN-97",
        id="quota-stage-cannot-read-the-attestation",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-30"
severity = "reject"
check = "pattern"
fields = ["payload.facility_ccy"]
params = "regex=[A-Z]{3}"
""",
        "BROKEN-30",
        id="params-not-a-table",
    ),
    pytest.param(
        f"{SB}.toml",
        """[[rules]]
id = "BROKEN-31"
severity = "reject"
check = "cel"
fields = ["payload.facility_ccy"]
params = { expr = "attestation.entity_status == 'ACTIVE'", code = "X" }
""",
        "BROKEN-31",
        id="request-stage-cel-reading-attestation",
    ),
]


@pytest.mark.parametrize(("file_name", "snippet", "rule_id"), BROKEN_RULES)
def test_broken_rule(
    rules_dir: Path, registry: SchemaRegistry, file_name: str, snippet: str, rule_id: str | None
) -> None:
    append(rules_dir / file_name, snippet)
    assert_names(load_error(rules_dir, registry), file_name, rule_id)


def test_broken_existing_rule_in_place(rules_dir: Path, registry: SchemaRegistry) -> None:
    # Break a shipped rule rather than add one: SBCCR-09's check name.
    path = rules_dir / f"{SB}.toml"
    replace(
        path,
        'id = "SBCCR-09"\nseverity = "warn"\ncheck = "enum"',
        'id = "SBCCR-09"\nseverity = "warn"\ncheck = "enumm"',
    )
    assert_names(load_error(rules_dir, registry), f"{SB}.toml", "SBCCR-09")


def test_stateful_check_outside_stage_quota_is_refused(rules_dir: Path, registry: SchemaRegistry) -> None:
    append(
        rules_dir / f"{PCN}.toml",
        """[[rules]]
id = "PCN-98"
severity = "reject"
check = "distinct"
params = { key = "payload.payer_hkid_hmac", value = "payload.payee_acct_hmac", window = "day", limit = 2 }
""",
    )
    err = load_error(rules_dir, registry)
    assert_names(err, f"{PCN}.toml", "PCN-98")
    assert "stage quota" in str(err)


def test_a_compiled_check_knows_its_rule_id(catalogue: Catalogue) -> None:
    # the rule id reaches the check through CheckEnv: each stateful rule reads its own total
    rules = {r.id: r for r in catalogue.scenarios[PCN].rules}
    over = {"PCN-03": Decimal("10000.01")}
    assert rules["PCN-03"].fn(ctx(payload=pcn_payload(), quota_used=over)) == [
        ("payload.amount_hkd", "LIMIT_EXCEEDED")
    ]
    assert rules["PCN-04"].fn(ctx(payload=pcn_payload(), quota_used=over)) == []
    assert all(not key.startswith("_") for r in rules.values() for key in r.params)


def test_rules_sharing_a_when_evaluate_it_once(rules_dir: Path, registry: SchemaRegistry) -> None:
    for n in (1, 2):
        append(
            rules_dir / f"{SB}.toml",
            f"""[[rules]]
id = "SHARED-{n}"
severity = "warn"
check = "required"
fields = ["payload.subject_uscc"]
when = "payload.facility_ccy == 'HKD'"
""",
        )
    rules = [r for r in load_catalogue(rules_dir, registry).scenarios[SB].rules if r.id.startswith("SHARED")]
    context = Context(request={}, payload={"facility_ccy": "HKD"}, now=ctx().now)
    assert [f.rule_id for f in evaluate(rules, context)] == ["SHARED-1", "SHARED-2"]  # both applied
    assert list(context.memo.values()) == [True]  # one entry: the second rule reused the first's result
    (key,) = context.memo
    context.memo[key] = False  # the memo is what the rules read
    assert rules[1].when is not None
    assert rules[1].when(context) is False


def test_only_preconditions_over_the_request_alone_are_carried(
    rules_dir: Path, registry: SchemaRegistry
) -> None:
    """What a later hop of the request may take over: not a precondition that reads ``now``."""
    for n, when in enumerate(("payload.facility_ccy == 'HKD'", "now > timestamp('2000-01-01T00:00:00Z')")):
        append(
            rules_dir / f"{SB}.toml",
            f"""[[rules]]
id = "CARRY-{n}"
severity = "warn"
check = "required"
fields = ["payload.subject_uscc"]
when = "{when}"
""",
        )
    rules = [r for r in load_catalogue(rules_dir, registry).scenarios[SB].rules if r.id.startswith("CARRY")]
    context = Context(request={}, payload={"facility_ccy": "HKD"}, now=ctx().now)
    assert [f.rule_id for f in evaluate(rules, context)] == ["CARRY-0", "CARRY-1"]
    assert len(context.memo) == 2
    assert list(request_memo(context.memo).values()) == [True]  # the payload's, not the one over now
    later = Context(
        request={}, payload={"facility_ccy": "HKD"}, now=ctx().now, memo=request_memo(context.memo)
    )
    (key,) = later.memo
    later.memo[key] = False  # a hop's context reads the carried value, not the CEL again
    assert rules[0].when is not None
    assert rules[0].when(later) is False


def test_count_when_is_for_stateful_rules_only(rules_dir: Path, registry: SchemaRegistry) -> None:
    append(
        rules_dir / f"{PCN}.toml",
        """[[rules]]
id = "PCN-97"
severity = "reject"
check = "required"
fields = ["payload.payer_hkid_hmac"]
count_when = "payload.same_name"
""",
    )
    err = load_error(rules_dir, registry)
    assert_names(err, f"{PCN}.toml", "PCN-97")
    assert "count_when is for stateful rules" in str(err)


def test_count_when_that_reads_the_attestation_is_refused(rules_dir: Path, registry: SchemaRegistry) -> None:
    replace(
        rules_dir / f"{PCN}.toml",
        'id = "PCN-04"\nstage = "quota"\nseverity = "reject"\ncheck = "quota"',
        'id = "PCN-04"\nstage = "quota"\nseverity = "reject"\ncheck = "quota"\n'
        "count_when = \"attestation.payee_name_match == 'FULL'\"",
    )
    assert_names(load_error(rules_dir, registry), f"{PCN}.toml", "PCN-04")
