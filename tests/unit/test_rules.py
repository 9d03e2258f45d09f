"""Unit tests of crossbound.rules: the shipped catalogue, RuleSetError for broken rule files, every
built-in check with hand-built contexts, and the evaluation engine and outcome precedence."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossbound import identifiers
from crossbound.codec import Codec, SchemaRegistry
from crossbound.errors import ConfigError, RuleSetError
from crossbound.rules import (
    Catalogue,
    Context,
    Finding,
    Outcome,
    Rule,
    RuleSet,
    Severity,
    evaluate,
    load_catalogue,
    outcome_of,
)
from crossbound.rules.checks import CHECKS, CheckEnv
from crossbound.rules.model import STAGES, CheckFn
from crossbound.rules.stateful import STATEFUL

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
RULESETS = REPO / "rulesets"

SB = "sb_corporate_credit_report"
NB = "nb_hk_resident_consumer_credit"
PCN = "payment_connect_northbound"

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # 20:00 in Hong Kong / Shenzhen
HEX_A = "3f" * 32
HEX_B = "0c" * 32
HEX_C = "a1" * 32

BIC_INST = {"scheme": "BIC", "id": "BKCHHKHHXXX", "city": "HK"}
USCC_INST = {"scheme": "USCC", "id": "91440300123456788M", "city": "440300"}


# --------------------------------------------------------------------------------------------------
# Fixtures and builders
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(SCHEMAS)


@pytest.fixture(scope="module")
def catalogue(registry: SchemaRegistry) -> Catalogue:
    return load_catalogue(RULESETS, registry)


def make_consent(**over: Any) -> dict[str, Any]:
    consent: dict[str, Any] = {
        "consent_id": "c-2025-000123",
        "subject_ref_hmac": HEX_C,
        "purpose_codes": ["CREDIT_APPLICATION", "CROSS_BORDER_PAYMENT"],
        "recipient_inst": dict(BIC_INST),
        "pi_categories": ["CREDIT_REPORT"],
        "separate_xb_consent": True,
        "granted_at": NOW - timedelta(days=10),
        "expires_at": NOW + timedelta(days=300),
        "withdrawn": False,
        "legal_basis": "CONSENT",
    }
    consent.update(over)
    return consent


def make_request(**over: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "request_id": "0f5c2a4e-7f43-4d3b-9a43-2b8f5d0c9e11",
        "scenario_id": SB,
        "scenario_version": "1.0.0",
        "requester_side": "HK",
        "attester_side": "SZ",
        "requester_inst": dict(BIC_INST),
        "attester_inst": dict(USCC_INST),
        "created_at": NOW - timedelta(minutes=1),
        "expires_at": NOW + timedelta(hours=1),
        "digest_alg": "SHA256",
        "hmac_key_id": "pair-hk-sz-2025-06",
        "nonce": "9f86d081884c7d659a2feaa0c55ad015",
        "consent": make_consent(),
        "payload": b"",
    }
    request.update(over)
    return request


def sb_payload(**over: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "subject_uscc": "91350100M000100Y43",
        "report_type": "FULL",
        "report_issued_on": date(2025, 5, 20),
        "purpose": "CREDIT_APPLICATION",
        "facility_ccy": "HKD",
        "facility_amount": Decimal("1234567.89"),
        "report_digest": HEX_A,
        "legal_rep_id_hmac": HEX_B,
    }
    payload.update(over)
    return payload


def sb_attestation(**over: Any) -> dict[str, Any]:
    att: dict[str, Any] = {"report_digest": HEX_A, "legal_rep_id_hmac": HEX_B, "entity_status": "ACTIVE"}
    att.update(over)
    return att


def pcn_payload(**over: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "amount_hkd": Decimal("5000.00"),
        "purpose": "EDUCATION",
        "same_name": False,
        "payer_hkid_holder": True,
        "payer_hkid_hmac": HEX_A,
        "payee_acct_hmac": HEX_B,
        "payee_name_hmac": HEX_C,
    }
    payload.update(over)
    return payload


def ctx(
    request: Mapping[str, Any] | None = None,
    payload: Mapping[str, Any] | None = None,
    attestation: Mapping[str, Any] | None = None,
    now: datetime = NOW,
    ruleset_version: str = "1.0.0",
    quota_used: Mapping[str, Any] | None = None,
) -> Context:
    return Context(
        request=make_request() if request is None else request,
        payload={} if payload is None else payload,
        now=now,
        attestation=attestation,
        ruleset_version=ruleset_version,
        quota_used=quota_used,
    )


def check(
    name: str, fields: list[str], params: Mapping[str, Any] | None = None, env: CheckEnv | None = None
) -> CheckFn:
    factory = STATEFUL[name].compile if name in STATEFUL else CHECKS[name]
    return factory(fields, dict(params or {}), env or CheckEnv())


def test_builders_are_valid_avro_records(registry: SchemaRegistry) -> None:
    # The hand-built contexts look exactly like decoded records: they encode with the real schemas.
    codec = Codec(registry)
    for subject, record in [
        ("core/request", make_request()),
        (f"scenarios/{SB}/request", sb_payload()),
        (f"scenarios/{SB}/attestation", sb_attestation()),
        (f"scenarios/{PCN}/request", pcn_payload()),
    ]:
        _, decoded = codec.decode(codec.encode(subject, record))
        assert decoded == record


# --------------------------------------------------------------------------------------------------
# The shipped catalogue
# --------------------------------------------------------------------------------------------------


def _toml(name: str) -> dict[str, Any]:
    return tomllib.loads((RULESETS / name).read_text(encoding="utf-8"))


COMMON = [
    "ENV-VERSION",
    "ENV-NONCE",
    "ENV-KEY",
    "C1",
    "C2",
    "C3",
    "C4",
    "C4-ATT",
    "C5",
    "C5-ATT",
    "C6",
    "C8",
    "C9",
    "C9-CITY",
    "C10",
    "C10-REVIEW",
    "C10-SENSITIVE",
    "C10-SENSITIVE-REVIEW",
]


def test_catalogue_loads(catalogue: Catalogue) -> None:
    assert {NB, PCN, SB} <= set(catalogue.scenarios)
    env = catalogue.envelope
    assert env.scenario_id == "envelope"
    assert env.version == "2.0.0"
    assert [r.id for r in env.rules] == COMMON
    assert {r.stage for r in env.rules} == {"request", "attestation", "quota"}
    assert env.path.endswith("envelope.toml")


def test_common_rules_are_compiled_into_every_scenario(catalogue: Catalogue) -> None:
    for rs in catalogue.scenarios.values():
        common = [r.id for r in rs.rules if r.id in rs.common_rule_ids]
        assert common == [r.id for r in rs.rules[: len(common)]], "common rules run first"
        expected = [
            rid
            for rid in COMMON
            if not (rid == "C3" and not rs.mainland_personal_data)
            and not (
                rid in ("C10", "C10-REVIEW") and not (rs.personal_data and not rs.sensitive_personal_data)
            )
            and not (rid.startswith("C10-SENSITIVE") and not rs.sensitive_personal_data)
        ]
        assert common == expected, rs.scenario_id


@pytest.mark.parametrize("sid", [SB, NB, PCN])
def test_catalogue_matches_the_files(catalogue: Catalogue, sid: str) -> None:
    doc = _toml(f"{sid}.toml")
    rs = catalogue.scenarios[sid]
    head = doc["scenario"]
    assert rs.scenario_id == sid == head["id"]
    assert rs.version == head["version"]
    assert rs.major == head["version"].split(".")[0]
    assert rs.title == head["title"]
    assert (rs.requester_side, rs.attester_side) == (head["requester_side"], head["attester_side"])
    assert rs.request_subject == f"scenarios/{sid}/request"
    assert rs.attestation_subject == f"scenarios/{sid}/attestation"
    assert rs.timeout_severity is Severity.REJECT
    assert rs.path.endswith(f"{sid}.toml")
    assert len(rs.digest) == 16
    int(rs.digest, 16)
    raw = doc["rules"]
    own = [r for r in rs.rules if r.id not in rs.common_rule_ids]
    assert [r.id for r in own] == [r["id"] for r in raw]
    for rule, src in zip(own, raw, strict=True):
        assert rule.stage == src.get("stage", "request")
        assert rule.severity is Severity(src["severity"].upper())
        assert rule.check == src["check"]
        assert rule.fields == tuple(src.get("fields", ()))
        assert "_rule_id" not in rule.params
        params = dict(src.get("params", {}))
        if rule.check in ("quota", "distinct", "subject_volume"):
            key = params["key"]
            params["key"] = (key,) if isinstance(key, str) else tuple(key)
            params.setdefault("window", "year")
        assert rule.params == params
        assert (rule.when is not None) == ("when" in src)
    for stage in STAGES:
        assert [r.id for r in rs.stage(stage) if r.id not in rs.common_rule_ids] == [
            r["id"] for r in raw if r.get("stage", "request") == stage
        ]


def test_catalogue_stages_spelled_out(catalogue: Catalogue) -> None:
    def ids(sid: str, stage: str) -> list[str]:
        rs = catalogue.scenarios[sid]
        return [r.id for r in rs.stage(stage) if r.id not in rs.common_rule_ids]

    assert ids(SB, "request") == [
        "SBCCR-01",
        "SBCCR-04",
        "SBCCR-05",
        "SBCCR-08",
        "SBCCR-09",
        "SBCCR-10",
        "SBCCR-11",
    ]
    assert ids(SB, "attestation") == ["SBCCR-02", "SBCCR-03", "SBCCR-06", "SBCCR-07"]
    assert ids(SB, "quota") == []
    assert ids(NB, "request") == ["NBCC-03", "NBCC-06", "NBCC-07"]
    assert ids(NB, "attestation") == ["NBCC-01", "NBCC-02", "NBCC-04", "NBCC-05", "NBCC-08"]
    assert ids(PCN, "request") == ["PCN-01", "PCN-02"]
    assert ids(PCN, "attestation") == ["PCN-06", "PCN-07", "PCN-08"]
    assert ids(PCN, "quota") == ["PCN-03", "PCN-04", "PCN-05"]
    pcn_steps = catalogue.scenarios[PCN].steps
    # the sensitive C10 pair (members, volume), then the payer's own ledger
    assert [(s.kind, s.ledger, s.key) for s in pcn_steps] == [
        ("members", "pipl_scc_sensitive", ("request.requester_inst", "consent.subject_ref_hmac")),
        ("volume", "pipl_scc_sensitive", ("request.requester_inst",)),
        ("ledger", PCN, ("request.requester_inst", "payload.payer_hkid_hmac")),
    ]
    assert [r.id for r in pcn_steps[2].rules] == ["PCN-03", "PCN-04", "PCN-05"]


def test_rule_ids_unique_across_catalogue(catalogue: Catalogue) -> None:
    ids = [r.id for r in catalogue.envelope.rules] + [
        r.id for rs in catalogue.scenarios.values() for r in rs.rules if r.id not in rs.common_rule_ids
    ]
    assert len(ids) == len(set(ids))


def test_envelope_on_a_good_request_passes(catalogue: Catalogue) -> None:
    assert evaluate(catalogue.envelope.rules, ctx()) == []


def test_envelope_on_a_bad_request(catalogue: Catalogue) -> None:
    request = make_request(
        scenario_version="2.0.0",
        nonce="9F86D081884C7D659A2FEAA0C55AD015",
        requester_inst={"scheme": "LEI", "id": "5493001KJTIIGC8Y1R21", "city": None},
        consent=None,
    )
    findings = evaluate(catalogue.envelope.rules, ctx(request))
    assert [(f.rule_id, f.field, f.code) for f in findings] == [
        ("ENV-VERSION", "request.scenario_version", "VERSION_MISMATCH"),
        ("ENV-NONCE", "request.nonce", "NONCE_FORMAT"),
        ("C1", "request.consent", "CONSENT_MISSING"),
        ("C8", "request.requester_inst", "INSTITUTION_LEI_CHECK_DIGIT"),
    ]
    assert {f.severity for f in findings} == {Severity.REJECT}


def test_clock_skew_reaches_the_checks(registry: SchemaRegistry) -> None:
    request = make_request(created_at=NOW + timedelta(minutes=2))
    default = load_catalogue(RULESETS, registry)
    strict = load_catalogue(RULESETS, registry, clock_skew=timedelta(0))
    assert evaluate(default.envelope.rules, ctx(request)) == []
    assert evaluate(strict.envelope.rules, ctx(request)) == [
        Finding("C6", Severity.REJECT, "request.created_at", "CREATED_IN_FUTURE")
    ]


def test_sb_request_stage(catalogue: Catalogue) -> None:
    rs = catalogue.scenarios[SB]
    good = ctx(payload=sb_payload())
    assert evaluate(rs.stage("request"), good) == []

    cnh = evaluate(rs.stage("request"), ctx(payload=sb_payload(facility_ccy="CNH")))
    assert cnh == [Finding("SBCCR-09", Severity.WARN, "payload.facility_ccy", "CNH_NORMALISED")]
    assert outcome_of(cnh) is Outcome.ACCEPT

    aged = evaluate(rs.stage("request"), ctx(payload=sb_payload(report_issued_on=date(2025, 4, 1))))
    assert aged == [Finding("SBCCR-04", Severity.REVIEW, "payload.report_issued_on", "STALE")]
    assert outcome_of(aged) is Outcome.REVIEW

    old = evaluate(rs.stage("request"), ctx(payload=sb_payload(report_issued_on=date(2025, 1, 1))))
    assert [(f.rule_id, f.code) for f in old] == [("SBCCR-04", "STALE"), ("SBCCR-05", "STALE")]
    assert outcome_of(old) is Outcome.REJECT


def test_sb_request_stage_digest_and_consent(catalogue: Catalogue) -> None:
    rs = catalogue.scenarios[SB]
    request = make_request(consent=make_consent(purpose_codes=["POST_LOAN"], separate_xb_consent=False))
    findings = evaluate(rs.stage("request"), ctx(request, sb_payload(report_digest=HEX_A.upper())))
    assert [(f.rule_id, f.field, f.code) for f in findings] == [
        ("C2", "request.consent.purpose_codes", "CONSENT_PURPOSE"),
        ("C3", "request.consent.separate_xb_consent", "CONSENT_XB_MISSING"),
        ("C5", "payload.report_digest", "DIGEST_FORMAT"),
    ]


def test_sb_attestation_stage(catalogue: Catalogue) -> None:
    rs = catalogue.scenarios[SB]
    assert evaluate(rs.stage("attestation"), ctx(payload=sb_payload(), attestation=sb_attestation())) == []
    findings = evaluate(
        rs.stage("attestation"),
        ctx(payload=sb_payload(), attestation=sb_attestation(report_digest=HEX_C, entity_status="REVOKED")),
    )
    assert [(f.rule_id, f.severity, f.field, f.code) for f in findings] == [
        ("SBCCR-02", Severity.REJECT, "payload.report_digest", "DIGEST_MISMATCH"),
        ("SBCCR-06", Severity.REJECT, "attestation.entity_status", "ENTITY_STATUS"),
    ]
    review = evaluate(
        rs.stage("attestation"),
        ctx(payload=sb_payload(), attestation=sb_attestation(entity_status="ABNORMAL_OPERATION_LIST")),
    )
    assert [(f.rule_id, f.severity) for f in review] == [("SBCCR-07", Severity.REVIEW)]


def test_pcn_quota_stage_when_selects_the_limit(catalogue: Catalogue) -> None:
    rs = catalogue.scenarios[PCN]
    # the quota agent puts each applicable rule's total-after-this-request in quota_used
    ledger = rs.steps[-1].rules
    big = Decimal("50000.00")
    used = {"PCN-03": big, "PCN-04": big, "PCN-05": big}
    other_name = evaluate(ledger, ctx(payload=pcn_payload(amount_hkd=big, same_name=False), quota_used=used))
    assert [(f.rule_id, f.field, f.code) for f in other_name] == [
        ("PCN-03", "payload.amount_hkd", "LIMIT_EXCEEDED")
    ]
    same_name = evaluate(ledger, ctx(payload=pcn_payload(amount_hkd=big, same_name=True), quota_used=used))
    assert same_name == []
    used = {"PCN-05": Decimal("90000"), "PCN-03": Decimal("0")}
    over = evaluate(ledger, ctx(payload=pcn_payload(amount_hkd=big, same_name=True), quota_used=used))
    assert [f.rule_id for f in over] == ["PCN-05"]


def test_nb_when_skips_residence_permit_rule(catalogue: Catalogue) -> None:
    rs = catalogue.scenarios[NB]
    payload = {
        "requested_limit_cny": Decimal("100000.00"),
        "work_city_code": "440300",
        "purpose": "CROSS_BORDER_CREDIT_APPLICATION",
        "hkid_hmac": HEX_A,
        "residence_permit_hmac": None,
        "credit_report_digest": HEX_B,
    }
    att = {
        "hkid_hmac": HEX_A,
        "credit_report_digest": HEX_B,
        "hkid_valid": True,
        "residence_permit_valid": None,
        "no_bankruptcy_flag": True,
        "delinquency_band": "NONE",
    }
    assert evaluate(rs.stage("attestation"), ctx(payload=payload, attestation=att)) == []
    with_permit = dict(payload, residence_permit_hmac=HEX_C)
    findings = evaluate(
        rs.stage("attestation"), ctx(payload=with_permit, attestation=dict(att, residence_permit_valid=False))
    )
    assert [(f.rule_id, f.code) for f in findings] == [("NBCC-02", "RESIDENCE_PERMIT_INVALID")]


# --------------------------------------------------------------------------------------------------
# RuleSetError for broken rule files
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    target = tmp_path / "rulesets"
    shutil.copytree(RULESETS, target)
    return target


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _load_error(rules_dir: Path, registry: SchemaRegistry) -> RuleSetError:
    with pytest.raises(RuleSetError) as err:
        load_catalogue(rules_dir, registry)
    assert isinstance(err.value, ConfigError)
    assert err.value.retriable is False
    return err.value


def _assert_names(err: RuleSetError, file_name: str, rule_id: str | None) -> None:
    assert Path(err.path).name == file_name
    assert err.rule_id == rule_id
    assert file_name in str(err)
    if rule_id is not None:
        assert rule_id in str(err)


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
]


@pytest.mark.parametrize(("file_name", "snippet", "rule_id"), BROKEN_RULES)
def test_broken_rule(
    rules_dir: Path, registry: SchemaRegistry, file_name: str, snippet: str, rule_id: str | None
) -> None:
    _append(rules_dir / file_name, snippet)
    _assert_names(_load_error(rules_dir, registry), file_name, rule_id)


def test_broken_existing_rule_in_place(rules_dir: Path, registry: SchemaRegistry) -> None:
    # Break a shipped rule rather than add one: SBCCR-09's check name.
    path = rules_dir / f"{SB}.toml"
    _replace(
        path,
        'id = "SBCCR-09"\nseverity = "warn"\ncheck = "enum"',
        'id = "SBCCR-09"\nseverity = "warn"\ncheck = "enumm"',
    )
    _assert_names(_load_error(rules_dir, registry), f"{SB}.toml", "SBCCR-09")


def test_file_name_must_match_scenario_id(rules_dir: Path, registry: SchemaRegistry) -> None:
    (rules_dir / f"{SB}.toml").rename(rules_dir / "sb_corp.toml")
    _assert_names(_load_error(rules_dir, registry), "sb_corp.toml", None)


def test_missing_envelope(rules_dir: Path, registry: SchemaRegistry) -> None:
    (rules_dir / "envelope.toml").unlink()
    _assert_names(_load_error(rules_dir, registry), "envelope.toml", None)


@pytest.mark.parametrize("file_name", [f"{SB}.toml", "envelope.toml"])
def test_toml_syntax_error(rules_dir: Path, registry: SchemaRegistry, file_name: str) -> None:
    _append(rules_dir / file_name, '[[rules]\nid = "X"\n')
    _assert_names(_load_error(rules_dir, registry), file_name, None)


def test_stateful_rules_with_different_keys_make_separate_steps(
    rules_dir: Path, registry: SchemaRegistry
) -> None:
    _append(
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
        ("ledger", ("request.requester_inst", "payload.payer_hkid_hmac"), ["PCN-03", "PCN-04", "PCN-05"]),
        ("ledger", ("payload.payee_acct_hmac",), ["PCN-99"]),
    ]


def test_stateful_check_outside_stage_quota_is_refused(rules_dir: Path, registry: SchemaRegistry) -> None:
    _append(
        rules_dir / f"{PCN}.toml",
        """[[rules]]
id = "PCN-98"
severity = "reject"
check = "distinct"
params = { key = "payload.payer_hkid_hmac", value = "payload.payee_acct_hmac", window = "day", limit = 2 }
""",
    )
    err = _load_error(rules_dir, registry)
    _assert_names(err, f"{PCN}.toml", "PCN-98")
    assert "stage quota" in str(err)


def test_quota_stage_cannot_read_the_attestation(rules_dir: Path, registry: SchemaRegistry) -> None:
    _append(
        rules_dir / f"{PCN}.toml",
        """[[rules]]
id = "PCN-97"
stage = "quota"
severity = "reject"
check = "quota"
params = { key = "attestation.payee_acct_hmac", window = "day", limit = 1 }
""",
    )
    _assert_names(_load_error(rules_dir, registry), f"{PCN}.toml", "PCN-97")


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
    ],
    ids=[
        "same-sides",
        "bad-side",
        "bad-timeout-severity",
        "unknown-schema",
        "unknown-scenario-key",
        "no-version",
        "no-scenario-table",
    ],
)
def test_bad_scenario_header(rules_dir: Path, registry: SchemaRegistry, old: str, new: str) -> None:
    _replace(rules_dir / f"{SB}.toml", old, new)
    _assert_names(_load_error(rules_dir, registry), f"{SB}.toml", None)


def test_scenario_without_rules(rules_dir: Path, registry: SchemaRegistry) -> None:
    path = rules_dir / f"{SB}.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("[[rules]]")], encoding="utf-8")
    _assert_names(_load_error(rules_dir, registry), f"{SB}.toml", None)


def test_envelope_without_version(rules_dir: Path, registry: SchemaRegistry) -> None:
    _replace(rules_dir / "envelope.toml", 'version = "2.0.0"', 'revision = "2.0.0"')
    _assert_names(_load_error(rules_dir, registry), "envelope.toml", None)


def test_no_scenario_files(rules_dir: Path, registry: SchemaRegistry) -> None:
    for path in rules_dir.glob("*.toml"):
        if path.name != "envelope.toml":
            path.unlink()
    err = _load_error(rules_dir, registry)
    assert err.path == str(rules_dir)
    assert err.rule_id is None


def test_missing_rulesets_dir(tmp_path: Path, registry: SchemaRegistry) -> None:
    err = _load_error(tmp_path / "nope", registry)
    assert err.path == str(tmp_path / "nope")


def test_params_not_a_table(rules_dir: Path, registry: SchemaRegistry) -> None:
    _append(
        rules_dir / f"{SB}.toml",
        """[[rules]]
id = "BROKEN-30"
severity = "reject"
check = "pattern"
fields = ["payload.facility_ccy"]
params = "regex=[A-Z]{3}"
""",
    )
    _assert_names(_load_error(rules_dir, registry), f"{SB}.toml", "BROKEN-30")


def test_request_stage_cel_reading_attestation(rules_dir: Path, registry: SchemaRegistry) -> None:
    _append(
        rules_dir / f"{SB}.toml",
        """[[rules]]
id = "BROKEN-31"
severity = "reject"
check = "cel"
fields = ["payload.facility_ccy"]
params = { expr = "attestation.entity_status == 'ACTIVE'", code = "X" }
""",
    )
    _assert_names(_load_error(rules_dir, registry), f"{SB}.toml", "BROKEN-31")


# --------------------------------------------------------------------------------------------------
# The check library
# --------------------------------------------------------------------------------------------------


def test_checks_catalogue_is_complete() -> None:
    assert sorted([*CHECKS, *STATEFUL]) == sorted(
        [
            "required",
            "pattern",
            "range",
            "enum",
            "identifier",
            "no_clear_pi",
            "distinct",
            "subject_volume",
            "institution",
            "freshness",
            "request_window",
            "consent",
            "digest_format",
            "digest_match",
            "scenario_version",
            "cel",
            "quota",
        ]
    )


# required ------------------------------------------------------------------------------------------


def test_required_passes_when_present() -> None:
    fn = check("required", ["request.hmac_key_id", "request.consent", "payload.x"])
    assert fn(ctx(payload={"x": 0})) == []
    assert fn(ctx(payload={"x": False})) == []


@pytest.mark.parametrize("empty", [None, "", [], {}])
def test_required_missing(empty: Any) -> None:
    fn = check("required", ["payload.a", "payload.x", "payload.b"])
    assert fn(ctx(payload={"a": "1", "x": empty, "b": "2"})) == [("payload.x", "MISSING")]


def test_required_absent_keys_and_nested() -> None:
    fn = check(
        "required", ["request.consent", "payload.x", "consent.consent_id", "request.requester_inst.id"]
    )
    request = make_request(consent=None, requester_inst={"scheme": "BIC", "id": "", "city": None})
    assert fn(ctx(request, payload={})) == [
        ("request.consent", "MISSING"),
        ("payload.x", "MISSING"),
        ("consent.consent_id", "MISSING"),
        ("request.requester_inst.id", "MISSING"),
    ]


def test_required_needs_fields() -> None:
    with pytest.raises(ValueError, match="field"):
        check("required", [])


def test_field_paths_must_have_a_known_root() -> None:
    with pytest.raises(ValueError, match="request"):
        check("required", ["body.x"])


# pattern -------------------------------------------------------------------------------------------


def test_pattern() -> None:
    fn = check("pattern", ["request.nonce"], {"regex": "[0-9a-f]{32}", "code": "NONCE_FORMAT"})
    assert fn(ctx()) == []
    assert fn(ctx(make_request(nonce="9F86D081884C7D659A2FEAA0C55AD015"))) == [
        ("request.nonce", "NONCE_FORMAT")
    ]
    # full match: a 33rd character or a prefix does not pass
    assert fn(ctx(make_request(nonce="9f86d081884c7d659a2feaa0c55ad015f"))) == [
        ("request.nonce", "NONCE_FORMAT")
    ]
    assert fn(ctx(make_request(nonce="x9f86d081884c7d659a2feaa0c55ad015"))) == [
        ("request.nonce", "NONCE_FORMAT")
    ]


def test_pattern_default_code_none_and_non_string() -> None:
    fn = check("pattern", ["payload.x"], {"regex": "[0-9]+"})
    assert fn(ctx(payload={"x": "123"})) == []
    assert fn(ctx(payload={"x": None})) == []
    assert fn(ctx(payload={})) == []
    assert fn(ctx(payload={"x": 123})) == [("payload.x", "PATTERN")]
    assert fn(ctx(payload={"x": "12a"})) == [("payload.x", "PATTERN")]


def test_pattern_bad_params() -> None:
    with pytest.raises(ValueError, match="regex"):
        check("pattern", ["payload.x"], {})
    with pytest.raises(ValueError, match="regex"):
        check("pattern", ["payload.x"], {"regex": "[0-9"})


# range ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("0.01"), []),
        (Decimal("300000.00"), []),
        (Decimal("0.00"), [("payload.amount", "BELOW_MIN")]),
        (Decimal("-5"), [("payload.amount", "BELOW_MIN")]),
        (Decimal("300000.01"), [("payload.amount", "ABOVE_MAX")]),
        (0.01, []),
        (0.005, [("payload.amount", "BELOW_MIN")]),
        (300000.5, [("payload.amount", "ABOVE_MAX")]),
        (300000, []),
        (300001, [("payload.amount", "ABOVE_MAX")]),
        (0, [("payload.amount", "BELOW_MIN")]),
        (float("inf"), [("payload.amount", "ABOVE_MAX")]),
        (None, []),
        (True, []),  # booleans are not numbers here
    ],
)
def test_range(value: Any, expected: list[tuple[str, str]]) -> None:
    fn = check("range", ["payload.amount"], {"min": "0.01", "max": "300000"})
    assert fn(ctx(payload={"amount": value})) == expected


def test_range_decimal_comparison_is_exact() -> None:
    # float(Decimal("0.10000000000000001")) == 0.1: only an exact comparison sees it is above the max.
    fn = check("range", ["payload.amount"], {"max": "0.1"})
    assert fn(ctx(payload={"amount": Decimal("0.10000000000000001")})) == [("payload.amount", "ABOVE_MAX")]
    assert fn(ctx(payload={"amount": Decimal("0.1")})) == []


def test_range_one_sided_and_several_fields() -> None:
    fn = check("range", ["payload.a", "payload.b"], {"min": 1})
    assert fn(ctx(payload={"a": Decimal("1000000000"), "b": 0})) == [("payload.b", "BELOW_MIN")]
    fn_max = check("range", ["payload.a"], {"max": 10.5})
    assert fn_max(ctx(payload={"a": Decimal("-1e9")})) == []
    assert fn_max(ctx(payload={"a": Decimal("10.51")})) == [("payload.a", "ABOVE_MAX")]


def test_range_bad_params() -> None:
    with pytest.raises(ValueError, match="min"):
        check("range", ["payload.a"], {})
    with pytest.raises(ValueError, match="min"):
        check("range", ["payload.a"], {"min": "ten"})


def test_range_float_nan_is_not_in_range() -> None:
    fn = check("range", ["payload.amount"], {"min": "0.01", "max": "300000"})
    assert fn(ctx(payload={"amount": float("nan")})) != []


# enum ----------------------------------------------------------------------------------------------


def test_enum_values() -> None:
    fn = check("enum", ["payload.facility_ccy"], {"values": ["HKD", "CNY", "USD", "CNH"], "code": "CURRENCY"})
    assert fn(ctx(payload={"facility_ccy": "CNY"})) == []
    assert fn(ctx(payload={"facility_ccy": "EUR"})) == [("payload.facility_ccy", "CURRENCY")]
    assert fn(ctx(payload={"facility_ccy": "hkd"})) == [("payload.facility_ccy", "CURRENCY")]
    assert fn(ctx(payload={"facility_ccy": None})) == []


def test_enum_forbidden_and_default_code() -> None:
    fn = check("enum", ["attestation.entity_status"], {"forbidden": ["REVOKED", "DEREGISTERED"]})
    assert fn(ctx(attestation={"entity_status": "ACTIVE"})) == []
    assert fn(ctx(attestation={"entity_status": "REVOKED"})) == [("attestation.entity_status", "NOT_ALLOWED")]
    assert fn(ctx(attestation=None)) == []


def test_enum_bad_params() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        check("enum", ["payload.x"], {})
    with pytest.raises(ValueError, match="exactly one"):
        check("enum", ["payload.x"], {"values": ["A"], "forbidden": ["B"]})


def test_enum_empty_values_does_not_allow_everything() -> None:
    try:
        fn = check("enum", ["payload.x"], {"values": []})
    except ValueError:
        return  # rejecting the rule at load time is a fix too
    assert fn(ctx(payload={"x": "ANYTHING"})) == [("payload.x", "NOT_ALLOWED")]


def test_enum_values_must_be_a_list() -> None:
    with pytest.raises(ValueError, match="values"):
        check("enum", ["payload.facility_ccy"], {"values": "HKD"})


# identifier ----------------------------------------------------------------------------------------


def test_identifier_uscc() -> None:
    fn = check("identifier", ["payload.subject_uscc"], {"kind": "uscc"})
    assert fn(ctx(payload={"subject_uscc": "91350100M000100Y43"})) == []
    assert fn(ctx(payload={"subject_uscc": None})) == []
    bad = "91350100M000100Y42"
    assert identifiers.check("uscc", bad).code == "CHECK_DIGIT"
    assert fn(ctx(payload={"subject_uscc": bad})) == [("payload.subject_uscc", "USCC_CHECK_DIGIT")]
    assert fn(ctx(payload={"subject_uscc": "9135"})) == [("payload.subject_uscc", "USCC_LENGTH")]


def test_identifier_warning_mode() -> None:
    fn = check("identifier", ["payload.subject_uscc"], {"kind": "uscc", "warning": "GB11714_CHECK"})
    warned = "91440300123456789Q"
    assert identifiers.check("uscc", warned).warnings == ("GB11714_CHECK",)
    assert fn(ctx(payload={"subject_uscc": warned})) == [("payload.subject_uscc", "USCC_GB11714_CHECK")]
    assert fn(ctx(payload={"subject_uscc": "91440300123456788M"})) == []
    # an invalid identifier is the other rule's business: warning mode stays silent
    assert fn(ctx(payload={"subject_uscc": "91350100M000100Y42"})) == []


def test_identifier_uses_ctx_now_as_today() -> None:
    fn = check("identifier", ["payload.id"], {"kind": "cn_resident_id"})
    born_2025_06_02 = "440304202506020017"
    assert identifiers.check("cn_resident_id", born_2025_06_02, today=date(2025, 6, 2)).valid
    assert fn(ctx(payload={"id": born_2025_06_02}, now=datetime(2025, 6, 2, 12, 0, tzinfo=UTC))) == []
    assert fn(ctx(payload={"id": born_2025_06_02}, now=datetime(2025, 5, 30, 12, 0, tzinfo=UTC))) == [
        ("payload.id", "CN_RESIDENT_ID_FUTURE_DATE")
    ]


def test_identifier_bad_params() -> None:
    with pytest.raises(ValueError, match="kind"):
        check("identifier", ["payload.x"], {})
    with pytest.raises(ValueError, match="kind"):
        check("identifier", ["payload.x"], {"kind": "ssn"})


# institution ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inst", "expected"),
    [
        ({"scheme": "LEI", "id": "5493001KJTIIGC8Y1R12"}, []),
        ({"scheme": "BIC", "id": "BKCHHKHHXXX"}, []),
        ({"scheme": "USCC", "id": "91350100M000100Y43"}, []),
        ({"scheme": "HK_BRN", "id": "12345678"}, []),
        (
            {"scheme": "LEI", "id": "5493001KJTIIGC8Y1R21"},
            [("request.requester_inst", "INSTITUTION_LEI_CHECK_DIGIT")],
        ),
        ({"scheme": "BIC", "id": "BKCHQQHH"}, [("request.requester_inst", "INSTITUTION_BIC_COUNTRY")]),
        (
            {"scheme": "USCC", "id": "91350100M000100Y42"},
            [("request.requester_inst", "INSTITUTION_USCC_CHECK_DIGIT")],
        ),
        ({"scheme": "HK_BRN", "id": "1234"}, [("request.requester_inst", "INSTITUTION_HK_BRN_LENGTH")]),
        ({"scheme": "DUNS", "id": "123456789"}, [("request.requester_inst", "INSTITUTION_SCHEME")]),
        ({"scheme": "LEI"}, [("request.requester_inst", "INSTITUTION_LEI_EMPTY")]),
    ],
)
def test_institution(inst: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    fn = check("institution", ["request.requester_inst", "request.attester_inst"])
    assert fn(ctx(make_request(requester_inst=dict(inst, city=None)))) == expected


def test_institution_absent_is_skipped() -> None:
    fn = check("institution", ["request.requester_inst"])
    assert fn(ctx(make_request(requester_inst=None))) == []


# freshness -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NOW - timedelta(days=10), []),
        (NOW - timedelta(days=30), []),
        (NOW - timedelta(days=30, seconds=1), [("payload.issued", "STALE")]),
        (NOW + timedelta(minutes=4), []),  # within the 5-minute clock skew
        (NOW + timedelta(minutes=6), [("payload.issued", "FUTURE_DATE")]),
        (date(2025, 5, 20), []),
        (date(2025, 6, 1), []),  # today
        (date(2025, 4, 1), [("payload.issued", "STALE")]),
        (date(2025, 6, 2), [("payload.issued", "FUTURE_DATE")]),  # tomorrow
        (datetime(2025, 5, 20, 8, 0), []),  # naive: read as UTC
        (datetime(2025, 6, 1, 12, 10), [("payload.issued", "FUTURE_DATE")]),
        ("2025-05-20", [("payload.issued", "NOT_A_DATE")]),
        (None, []),
    ],
)
def test_freshness(value: Any, expected: list[tuple[str, str]]) -> None:
    fn = check("freshness", ["payload.issued"], {"max_age_days": 30})
    assert fn(ctx(payload={"issued": value})) == expected


def test_freshness_uses_env_clock_skew() -> None:
    fn = check("freshness", ["payload.issued"], {"max_age_days": 30}, CheckEnv(clock_skew=timedelta(0)))
    assert fn(ctx(payload={"issued": NOW + timedelta(seconds=1)})) == [("payload.issued", "FUTURE_DATE")]
    assert fn(ctx(payload={"issued": NOW})) == []


def test_freshness_fractional_days() -> None:
    fn = check("freshness", ["payload.issued"], {"max_age_days": 0.5})
    assert fn(ctx(payload={"issued": NOW - timedelta(hours=11)})) == []
    assert fn(ctx(payload={"issued": NOW - timedelta(hours=13)})) == [("payload.issued", "STALE")]


def test_freshness_bad_params() -> None:
    with pytest.raises(ValueError, match="max_age_days"):
        check("freshness", ["payload.issued"], {})
    with pytest.raises(ValueError, match="max_age_days"):
        check("freshness", ["payload.issued"], {"max_age_days": "thirty"})


# HK and Shenzhen are UTC+8: 2025-06-01T17:00Z is 01:00 on 2 June there.
LOCAL_AFTER_MIDNIGHT = datetime(2025, 6, 1, 17, 0, tzinfo=UTC)


def test_freshness_date_issued_today_local_is_not_future() -> None:
    # Dates are calendar days in UTC+8: at 01:00 local on 2 June, a report of 2 June is today's,
    # one of 3 June is not.
    fn = check("freshness", ["payload.report_issued_on"], {"max_age_days": 30})
    assert fn(ctx(payload={"report_issued_on": date(2025, 6, 2)}, now=LOCAL_AFTER_MIDNIGHT)) == []
    assert fn(ctx(payload={"report_issued_on": date(2025, 6, 3)}, now=LOCAL_AFTER_MIDNIGHT)) == [
        ("payload.report_issued_on", "FUTURE_DATE")
    ]


def test_freshness_date_age_in_local_calendar_days() -> None:
    fn = check("freshness", ["payload.report_issued_on"], {"max_age_days": 30})
    # 2025-06-01 20:00 local: issued 2025-05-02 is 30 calendar days ago (fresh), 2025-05-01 is 31 (stale)
    assert fn(ctx(payload={"report_issued_on": date(2025, 5, 2)})) == []
    assert fn(ctx(payload={"report_issued_on": date(2025, 5, 1)})) == [("payload.report_issued_on", "STALE")]
    # at 01:00 local on 2 June the same 2025-05-02 report is 31 days old
    assert fn(ctx(payload={"report_issued_on": date(2025, 5, 2)}, now=LOCAL_AFTER_MIDNIGHT)) == [
        ("payload.report_issued_on", "STALE")
    ]


def test_identifier_today_is_the_local_date() -> None:
    fn = check("identifier", ["payload.id"], {"kind": "cn_resident_id"})
    assert fn(ctx(payload={"id": "440304202506020017"}, now=LOCAL_AFTER_MIDNIGHT)) == []


# request_window ------------------------------------------------------------------------------------


def _window(created: datetime, expires: datetime, **params: Any) -> list[tuple[str, str]]:
    fn = check("request_window", ["request.created_at", "request.expires_at"], params)
    return fn(ctx(make_request(created_at=created, expires_at=expires)))


def test_request_window_ok() -> None:
    assert _window(NOW - timedelta(hours=1), NOW + timedelta(hours=1)) == []
    assert _window(NOW - timedelta(hours=23), NOW + timedelta(hours=1)) == []  # exactly 24 h
    assert _window(NOW + timedelta(minutes=4), NOW + timedelta(hours=1)) == []  # skew


def test_request_window_created_in_future() -> None:
    assert _window(NOW + timedelta(minutes=6), NOW + timedelta(hours=1)) == [
        ("request.created_at", "CREATED_IN_FUTURE")
    ]


def test_request_window_expires_before_created() -> None:
    assert _window(NOW, NOW) == [("request.expires_at", "EXPIRES_BEFORE_CREATED")]
    assert _window(NOW, NOW - timedelta(seconds=1)) == [("request.expires_at", "EXPIRES_BEFORE_CREATED")]


def test_request_window_lifetime_too_long() -> None:
    assert _window(NOW - timedelta(hours=1), NOW + timedelta(hours=23, seconds=1)) == [
        ("request.expires_at", "LIFETIME_TOO_LONG")
    ]
    assert _window(NOW - timedelta(minutes=10), NOW + timedelta(minutes=51), max_lifetime_hours=1) == [
        ("request.expires_at", "LIFETIME_TOO_LONG")
    ]


def test_request_window_expired() -> None:
    assert _window(NOW - timedelta(hours=2), NOW) == [("request.expires_at", "EXPIRED")]
    assert _window(NOW - timedelta(hours=2), NOW - timedelta(minutes=1)) == [
        ("request.expires_at", "EXPIRED")
    ]


# consent -------------------------------------------------------------------------------------------


def _consent(
    params: Mapping[str, Any], payload: Mapping[str, Any] | None = None, **consent: Any
) -> list[tuple[str, str]]:
    fn = check("consent", [], params)
    return fn(ctx(make_request(consent=make_consent(**consent)), payload=payload))


def test_consent_ok() -> None:
    assert _consent({"purposes": ["CREDIT_APPLICATION"], "require_separate_xb": True}) == []
    assert _consent({"purpose_field": "payload.purpose"}, {"purpose": "CREDIT_APPLICATION"}) == []


def test_consent_missing() -> None:
    fn = check("consent", [], {})
    assert fn(ctx(make_request(consent=None))) == [("request.consent", "CONSENT_MISSING")]


def test_consent_withdrawn_wins() -> None:
    assert _consent({"purposes": ["OTHER"]}, withdrawn=True, expires_at=NOW - timedelta(days=1)) == [
        ("request.consent", "CONSENT_WITHDRAWN")
    ]


@pytest.mark.parametrize(
    "window",
    [
        {"expires_at": NOW},  # expires_at is exclusive
        {"expires_at": NOW - timedelta(days=1)},
        {"granted_at": NOW + timedelta(seconds=1)},
    ],
)
def test_consent_not_in_force(window: dict[str, Any]) -> None:
    assert _consent({"purposes": ["OTHER"]}, **window) == [
        ("request.consent.expires_at", "CONSENT_NOT_IN_FORCE")
    ]


def test_consent_in_force_from_granted_at() -> None:
    assert _consent({}, granted_at=NOW) == []


def test_consent_purpose_via_purposes() -> None:
    assert _consent({"purposes": ["CROSS_BORDER_CREDIT_APPLICATION"]}) == [
        ("request.consent.purpose_codes", "CONSENT_PURPOSE")
    ]
    # every listed purpose must be covered
    assert _consent({"purposes": ["CREDIT_APPLICATION", "MARKETING"]}) == [
        ("request.consent.purpose_codes", "CONSENT_PURPOSE")
    ]


def test_consent_purpose_via_purpose_field() -> None:
    params = {"purpose_field": "payload.purpose"}
    assert _consent(params, {"purpose": "GUARANTOR_CHECK"}) == [
        ("request.consent.purpose_codes", "CONSENT_PURPOSE")
    ]
    assert _consent(params, {"purpose": None}) == []


def test_consent_recipient() -> None:
    other_id = {"scheme": "BIC", "id": "HSBCHKHHHKH", "city": None}
    assert _consent({}, recipient_inst=other_id) == [("request.consent.recipient_inst", "CONSENT_RECIPIENT")]
    other_scheme = {"scheme": "LEI", "id": "BKCHHKHHXXX", "city": None}
    assert _consent({}, recipient_inst=other_scheme) == [
        ("request.consent.recipient_inst", "CONSENT_RECIPIENT")
    ]
    # the city is not part of the identity
    assert _consent({}, recipient_inst=dict(BIC_INST, city="440300")) == []
    assert _consent({"check_recipient": False}, recipient_inst=other_id) == []


def test_consent_xb_missing() -> None:
    assert _consent({"require_separate_xb": True}, separate_xb_consent=False) == [
        ("request.consent.separate_xb_consent", "CONSENT_XB_MISSING")
    ]
    assert _consent({}, separate_xb_consent=False) == []


def test_consent_legal_basis() -> None:
    assert _consent({"legal_bases": ["GBA_SC"]}) == [("request.consent.legal_basis", "LEGAL_BASIS")]
    assert _consent({"legal_bases": ["GBA_SC", "CONSENT"]}) == []


def test_consent_reports_every_failure() -> None:
    findings = _consent(
        {"purposes": ["MARKETING"], "require_separate_xb": True, "legal_bases": ["GBA_SC"]},
        recipient_inst={"scheme": "BIC", "id": "HSBCHKHHHKH", "city": None},
        separate_xb_consent=False,
    )
    assert [code for _, code in findings] == [
        "CONSENT_PURPOSE",
        "CONSENT_RECIPIENT",
        "CONSENT_XB_MISSING",
        "LEGAL_BASIS",
    ]


# digest_format -------------------------------------------------------------------------------------


def test_digest_format() -> None:
    fn = check("digest_format", ["payload.d", "attestation.d"])
    assert fn(ctx(payload={"d": HEX_A}, attestation={"d": [HEX_B, HEX_C]})) == []
    assert fn(ctx(payload={"d": None})) == []
    for bad in (HEX_A.upper(), HEX_A[:-1], HEX_A + "0", "g" * 64, b"\x00" * 32, [HEX_A, "xyz"]):
        assert fn(ctx(payload={"d": bad})) == [("payload.d", "DIGEST_FORMAT")], bad


def test_digest_format_all_digest_fields() -> None:
    env = CheckEnv(digest_fields=("payload.a", "payload.b", "attestation.c"))
    fn = check("digest_format", ["payload.a"], {"all_digest_fields": True}, env)
    good = ctx(payload={"a": HEX_A, "b": HEX_B}, attestation={"c": HEX_C})
    assert fn(good) == []
    bad = ctx(payload={"a": "nope", "b": "nope"}, attestation={"c": "nope"})
    # payload.a is listed once even though it is both a field and a digest field
    assert fn(bad) == [
        ("payload.a", "DIGEST_FORMAT"),
        ("payload.b", "DIGEST_FORMAT"),
        ("attestation.c", "DIGEST_FORMAT"),
    ]
    without = check("digest_format", ["payload.a"], {}, env)
    assert without(bad) == [("payload.a", "DIGEST_FORMAT")]


# digest_match --------------------------------------------------------------------------------------


def test_digest_match() -> None:
    fn = check("digest_match", ["payload.d"], {"against": "attestation.d"})
    assert fn(ctx(payload={"d": HEX_A}, attestation={"d": HEX_A})) == []
    assert fn(ctx(payload={"d": HEX_A}, attestation={"d": HEX_B})) == [("payload.d", "DIGEST_MISMATCH")]
    assert fn(ctx(payload={"d": HEX_A}, attestation={"d": HEX_A.upper()})) == [
        ("payload.d", "DIGEST_MISMATCH")
    ]


def test_digest_match_missing() -> None:
    fn = check("digest_match", ["payload.d"], {"against": "attestation.d"})
    assert fn(ctx(payload={"d": None}, attestation={"d": HEX_A})) == [("payload.d", "DIGEST_MISSING")]
    assert fn(ctx(payload={"d": HEX_A}, attestation={})) == [("payload.d", "DIGEST_MISSING")]
    assert fn(ctx(payload={"d": HEX_A}, attestation=None)) == [("payload.d", "DIGEST_MISSING")]


def test_digest_match_lists() -> None:
    fn = check("digest_match", ["payload.d"], {"against": "attestation.d"})
    assert fn(ctx(payload={"d": [HEX_A, HEX_B]}, attestation={"d": [HEX_B, HEX_A]})) == []
    assert fn(ctx(payload={"d": [HEX_A, HEX_B]}, attestation={"d": [HEX_A, HEX_C]})) == [
        ("payload.d", "DIGEST_MISMATCH")
    ]
    assert fn(ctx(payload={"d": [HEX_A, HEX_A]}, attestation={"d": [HEX_A]})) == [
        ("payload.d", "DIGEST_MISMATCH")
    ]
    assert fn(ctx(payload={"d": [HEX_A]}, attestation={"d": HEX_A})) == []
    assert fn(ctx(payload={"d": HEX_A}, attestation={"d": [HEX_A, HEX_B]})) == [
        ("payload.d", "DIGEST_MISMATCH")
    ]


def test_digest_match_bad_params() -> None:
    with pytest.raises(ValueError, match="against"):
        check("digest_match", ["payload.d"], {})
    with pytest.raises(ValueError, match="exactly one field"):
        check("digest_match", ["payload.d", "payload.e"], {"against": "attestation.d"})


def test_digest_match_non_ascii_is_a_mismatch() -> None:
    fn = check("digest_match", ["payload.d"], {"against": "attestation.d"})
    assert fn(ctx(payload={"d": "é" * 64}, attestation={"d": HEX_A})) == [("payload.d", "DIGEST_MISMATCH")]


# scenario_version ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("theirs", "mine", "expected"),
    [
        ("1.0.0", "1.0.0", []),
        ("1.4.2", "1.0.0", []),
        ("1", "1.2.0", []),
        ("2.0.0", "1.0.0", [("request.scenario_version", "VERSION_MISMATCH")]),
        ("10.0.0", "1.0.0", [("request.scenario_version", "VERSION_MISMATCH")]),
        ("0.9.0", "1.0.0", [("request.scenario_version", "VERSION_MISMATCH")]),
    ],
)
def test_scenario_version(theirs: str, mine: str, expected: list[tuple[str, str]]) -> None:
    fn = check("scenario_version", ["request.scenario_version"])
    assert fn(ctx(make_request(scenario_version=theirs), ruleset_version=mine)) == expected


# cel -----------------------------------------------------------------------------------------------


def test_cel_true_and_false() -> None:
    fn = check("cel", ["payload.flag"], {"expr": "payload.flag == true", "code": "FLAG"})
    assert fn(ctx(payload={"flag": True})) == []
    assert fn(ctx(payload={"flag": False})) == [("payload.flag", "FLAG")]


def test_cel_default_code_and_no_fields() -> None:
    fn = check("cel", [], {"expr": "payload.n > 3"})
    assert fn(ctx(payload={"n": 4})) == []
    assert fn(ctx(payload={"n": 2})) == [("", "CONDITION")]


def test_cel_non_boolean_raises() -> None:
    fn = check("cel", ["payload.n"], {"expr": "payload.n + 1"})
    with pytest.raises(TypeError):
        fn(ctx(payload={"n": 1}))


def test_cel_sees_every_root() -> None:
    fn = check(
        "cel",
        [],
        {
            "expr": "request.requester_side == 'HK' && consent.withdrawn == false && attestation.x == 'y' "
            "&& payload.issued < now && payload.amount > 1.0",
        },
    )
    good = ctx(payload={"issued": date(2025, 5, 1), "amount": Decimal("2.5")}, attestation={"x": "y"})
    assert fn(good) == []
    future = ctx(payload={"issued": date(2025, 7, 1), "amount": Decimal("2.5")}, attestation={"x": "y"})
    assert fn(future) == [("", "CONDITION")]


def test_cel_null_comparison() -> None:
    fn = check("cel", [], {"expr": "payload.permit != null"})
    assert fn(ctx(payload={"permit": None})) == [("", "CONDITION")]
    assert fn(ctx(payload={"permit": HEX_A})) == []


def test_cel_bad_params() -> None:
    with pytest.raises(ValueError, match="expr"):
        check("cel", [], {})
    with pytest.raises(ValueError, match="compile"):
        check("cel", [], {"expr": "payload.x =="})
    with pytest.raises(ValueError, match="secrets"):
        check("cel", [], {"expr": "secrets.key == 'x'"})


# quota ---------------------------------------------------------------------------------------------


QUOTA = {
    "key": "payload.payer_hkid_hmac",
    "amount": "payload.amount_hkd",
    "window": "day",
    "limit": "10000",
    "_rule_id": "PCN-03",
}


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        (None, []),  # the rule did not apply (no amount): nothing to compare
        ({"PCN-03": Decimal("10000.00")}, []),
        ({"PCN-03": Decimal("10000.01")}, [("payload.amount_hkd", "LIMIT_EXCEEDED")]),
        ({"PCN-04": Decimal("9999999")}, []),  # another rule's total does not count
    ],
)
def test_quota(used: Mapping[str, Any] | None, expected: list[tuple[str, str]]) -> None:
    """The check compares the total after this request, which the quota agent computes."""
    fn = check("quota", ["payload.amount_hkd"], QUOTA)
    assert fn(ctx(payload=pcn_payload(), quota_used=used)) == expected


@pytest.mark.parametrize(
    ("broken", "match"),
    [
        ({"window": "week"}, "window"),
        ({"limit": "lots"}, "limit"),
        ({"key": "body.x"}, "body.x"),
    ],
)
def test_quota_bad_params(broken: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check("quota", ["payload.amount_hkd"], {**QUOTA, **broken})


@pytest.mark.parametrize("missing", ["key", "window", "limit"])
def test_quota_missing_params(missing: str) -> None:
    params = {k: v for k, v in QUOTA.items() if k != missing}
    with pytest.raises(ValueError, match=missing):
        check("quota", ["payload.amount_hkd"], params)


# --------------------------------------------------------------------------------------------------
# The engine and outcomes
# --------------------------------------------------------------------------------------------------


def make_rule(
    rule_id: str,
    fn: CheckFn,
    severity: Severity = Severity.REJECT,
    fields: tuple[str, ...] = ("payload.x",),
    when: Callable[[Context], bool] | None = None,
) -> Rule:
    return Rule(
        id=rule_id,
        stage="request",
        severity=severity,
        check="cel",
        fields=fields,
        description="",
        source="",
        params={},
        fn=fn,
        when=when,
    )


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


def test_envelope_rejects_a_subject_reference_that_is_not_a_digest(catalogue: Catalogue) -> None:
    request = make_request()
    consent = dict(request["consent"], subject_ref_hmac="A1234563")  # an HKID in clear, not an HMAC
    findings = evaluate(catalogue.envelope.rules, ctx(dict(request, consent=consent)))
    assert [(f.rule_id, f.field, f.code) for f in findings] == [
        ("C5", "consent.subject_ref_hmac", "DIGEST_FORMAT")
    ]
