"""Reading rule files (crossbound.rules.loader): the directory, the envelope, the [scenario] header,
the hops of the stateful rules; every fault is a RuleSetError naming the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rules_builders import PCN, RULESETS, SB, append, assert_names, load_error, replace

from crossbound.codec import SchemaRegistry
from crossbound.domain import Side
from crossbound.errors import RuleSetError
from crossbound.rules import Severity, load_catalogue
from crossbound.rules.loader import read_header


def test_file_name_must_match_scenario_id(rules_dir: Path, registry: SchemaRegistry) -> None:
    (rules_dir / f"{SB}.toml").rename(rules_dir / "sb_corp.toml")
    assert_names(load_error(rules_dir, registry), "sb_corp.toml", None)


def test_missing_envelope(rules_dir: Path, registry: SchemaRegistry) -> None:
    (rules_dir / "envelope.toml").unlink()
    assert_names(load_error(rules_dir, registry), "envelope.toml", None)


@pytest.mark.parametrize("file_name", [f"{SB}.toml", "envelope.toml"])
def test_toml_syntax_error(rules_dir: Path, registry: SchemaRegistry, file_name: str) -> None:
    append(rules_dir / file_name, '[[rules]\nid = "X"\n')
    assert_names(load_error(rules_dir, registry), file_name, None)


def test_stateful_rules_with_different_keys_make_separate_steps(
    rules_dir: Path, registry: SchemaRegistry
) -> None:
    append(
        rules_dir / f"{PCN}.toml",
        """[[rules]]
id = "PCN-99"
stage = "quota"
severity = "reject"
check = "quota"
params = { key = "payload.payee_acct_hmac", window = "day", limit = "1" }
""",
    )
    rs = load_catalogue(rules_dir, registry).scenarios[PCN]
    ledgers = [(s.kind, s.key, [r.id for r in s.rules]) for s in rs.steps if s.kind == "ledger"]
    assert ledgers == [
        (
            "ledger",
            ("request.requester_inst", "payload.ledger_key_id", "payload.payer_ledger_ref"),
            ["PCN-03", "PCN-04"],
        ),
        (
            "ledger",
            ("request.requester_inst", "payload.ledger_key_next_id", "payload.payer_ledger_ref_next"),
            ["PCN-03", "PCN-04"],
        ),
        ("ledger", ("payload.payee_acct_hmac",), ["PCN-99"]),
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('attester_side = "SZ"', 'attester_side = "HK"'),
        ('attester_side = "SZ"', 'attester_side = "MO"'),
        ('timeout_severity = "reject"', 'timeout_severity = "later"'),
        (
            'timeout_severity = "reject"',
            'timeout_severity = "reject"\nrequest_schema = "scenarios/nope/request"',
        ),
        ('timeout_severity = "reject"', 'timeout_severity = "reject"\nowner = "someone"'),
        (
            '[scenario]\nid = "sb_corporate_credit_report"\nversion = "1.0.0"\n',
            '[scenario]\nid = "sb_corporate_credit_report"\n',
        ),
        ("[scenario]", "[scenery]"),
        ('timeout_severity = "reject"', 'timeout_severity = "reject"\npurposes = ["credit application"]'),
    ],
    ids=[
        "same-sides",
        "bad-side",
        "bad-timeout-severity",
        "unknown-schema",
        "unknown-scenario-key",
        "no-version",
        "no-scenario-table",
        "purpose-not-a-code",
    ],
)
def test_bad_scenario_header(rules_dir: Path, registry: SchemaRegistry, old: str, new: str) -> None:
    replace(rules_dir / f"{SB}.toml", old, new)
    assert_names(load_error(rules_dir, registry), f"{SB}.toml", None)


@pytest.mark.parametrize(
    ("old", "new", "fault"),
    [
        (r'pipl_outbound_reason = "[^"]*"', 'pipl_outbound_reason = ""', "needs pipl_outbound_reason"),
        (r'pipl_outbound_reason = "[^"]*"\n', "", "needs pipl_outbound_reason"),
        (r'pipl_outbound_reason = "[^"]*"', "pipl_outbound_reason = 3", "must be a string"),
        (r"pipl_outbound = true", 'pipl_outbound = "yes"', "pipl_outbound must be true or false"),
        (r"personal_data = true\n", "personal_data = false\n", "need personal_data = true"),
        (r"pipl_outbound = true", "mainland_personal_data = true", "unknown [scenario] keys"),
        (r'platform_status = "[^"]*"', 'platform_status = "live"', "platform_status must be one of"),
        (r'platform_status = "[^"]*"\n', "", "platform_status must be one of"),
    ],
    ids=[
        "empty-reason",
        "no-reason",
        "reason-not-text",
        "flag-not-bool",
        "outbound-without-pd",
        "old-key",
        "bad-platform-status",
        "no-platform-status",
    ],
)
def test_bad_pipl_header(rules_dir: Path, registry: SchemaRegistry, old: str, new: str, fault: str) -> None:
    """A scenario with personal data must say whether PI processed in the mainland leaves it, and why;
    every scenario says whether a public source puts it on the validation platform."""
    path = rules_dir / f"{SB}.toml"
    text = path.read_text(encoding="utf-8")
    changed = re.sub(old, new, text, count=1, flags=re.M)
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    err = load_error(rules_dir, registry)
    assert_names(err, f"{SB}.toml", None)
    assert fault in str(err)


def test_scenario_without_rules(rules_dir: Path, registry: SchemaRegistry) -> None:
    path = rules_dir / f"{SB}.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("[[rules]]")], encoding="utf-8")
    assert_names(load_error(rules_dir, registry), f"{SB}.toml", None)


def test_envelope_without_version(rules_dir: Path, registry: SchemaRegistry) -> None:
    replace(rules_dir / "envelope.toml", 'version = "2.1.0"', 'revision = "2.1.0"')
    assert_names(load_error(rules_dir, registry), "envelope.toml", None)


def test_no_scenario_files(rules_dir: Path, registry: SchemaRegistry) -> None:
    for path in rules_dir.glob("*.toml"):
        if path.name != "envelope.toml":
            path.unlink()
    err = load_error(rules_dir, registry)
    assert err.path == str(rules_dir)
    assert err.rule_id is None


def test_missing_rulesets_dir(tmp_path: Path, registry: SchemaRegistry) -> None:
    err = load_error(tmp_path / "nope", registry)
    assert err.path == str(tmp_path / "nope")


def test_read_header_without_schemas() -> None:
    head = read_header(RULESETS / f"{PCN}.toml")
    assert (head.id, head.requester_side, head.attester_side) == (PCN, Side.HK, Side.SZ)
    assert head.timeout_severity is Severity.REJECT
    assert head.request_subject == f"scenarios/{PCN}/request"
    assert head.cel_scenario()["requester_side"] == "HK"


@pytest.mark.parametrize(("value", "severity"), [("review", Severity.REVIEW), ("WARN", Severity.WARN)])
def test_read_header_timeout_severity(rules_dir: Path, value: str, severity: Severity) -> None:
    replace(rules_dir / f"{SB}.toml", 'timeout_severity = "reject"', f'timeout_severity = "{value}"')
    assert read_header(rules_dir / f"{SB}.toml").timeout_severity is severity


def test_read_header_refuses_a_broken_header(rules_dir: Path) -> None:
    replace(rules_dir / f"{SB}.toml", 'timeout_severity = "reject"', 'timeout_severity = "later"')
    with pytest.raises(RuleSetError, match="timeout_severity") as err:
        read_header(rules_dir / f"{SB}.toml")
    assert Path(err.value.path).name == f"{SB}.toml"


def test_the_catalogue_agrees_with_the_headers(registry: SchemaRegistry) -> None:
    for rs in load_catalogue(RULESETS, registry).scenarios.values():
        head = read_header(Path(rs.path))
        assert (rs.scenario_id, rs.version, rs.timeout_severity) == (
            head.id,
            head.version,
            head.timeout_severity,
        )
        assert (rs.requester_side, rs.attester_side) == (head.requester_side.value, head.attester_side.value)


def test_per_person_ledgers_need_the_limits_authority(rules_dir: Path, registry: SchemaRegistry) -> None:
    """A scenario whose limits key on a ledger reference says whose figure decides limits that span
    institutions: the platform's count is per requesting institution."""
    path = rules_dir / f"{PCN}.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r'^limits_authority = "[^"]*"\n', "", text, count=1, flags=re.M), encoding="utf-8")
    err = load_error(rules_dir, registry)
    assert_names(err, f"{PCN}.toml", None)
    assert "needs limits_authority: PCN-03, PCN-04 keep per-person ledgers" in str(err)


def test_key_next_has_as_many_parts_as_the_key(rules_dir: Path, registry: SchemaRegistry) -> None:
    replace(
        rules_dir / f"{PCN}.toml",
        '"payload.ledger_key_next_id", "payload.payer_ledger_ref_next"]',
        '"payload.payer_ledger_ref_next"]',
    )
    err = load_error(rules_dir, registry)
    assert_names(err, f"{PCN}.toml", "PCN-03")
    assert "key_next must have as many paths as params.key" in str(err)
