"""The shipped catalogue (rulesets/): what loads, in which order and stage, and what the rules of the
envelope and of three scenarios find on hand-built requests."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rules_builders import (
    HEX_A,
    HEX_B,
    HEX_C,
    NB,
    NOW,
    PCN,
    RULESETS,
    SB,
    ctx,
    make_consent,
    make_request,
    pcn_payload,
    sb_attestation,
    sb_payload,
)

from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import Catalogue, Finding, Outcome, Severity, evaluate, load_catalogue, outcome_of
from crossbound.rules.model import STAGES


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


def _toml(name: str) -> dict[str, Any]:
    return tomllib.loads((RULESETS / name).read_text(encoding="utf-8"))


COMMON = [
    "ENV-VERSION",
    "ENV-NONCE",
    "ENV-KEY",
    "C1",
    "C2",
    "C3",
    "C11",
    "C4",
    "C4-ATT",
    "C5",
    "C5-ATT",
    "C6",
    "C8",
    "C9",
    "C9-CITY",
    *(
        f"{rid}{suffix}"
        for suffix in ("", "-ATT")
        for rid in ("C10", "C10-REVIEW", "C10-EXEMPT", "C10-SENSITIVE", "C10-SENSITIVE-REVIEW")
    ),
]


def _applies(rid: str, rs: Any) -> bool:
    """Which common rules a scenario runs: C3 and C10 where PI processed in the mainland leaves it, C11
    and C10-SENSITIVE where that PI is sensitive, C10 counted at the exporter (the mainland side)."""
    if rid == "C3":
        return bool(rs.pipl_outbound)
    if rid == "C11":
        return bool(rs.pipl_outbound and rs.sensitive_personal_data)
    if not rid.startswith("C10"):
        return True
    exporter_is_requester = rs.requester_side == "SZ"
    if rid.endswith("-ATT") == exporter_is_requester or not rs.pipl_outbound:
        return False
    return rid.startswith("C10-SENSITIVE") == rs.sensitive_personal_data


def test_catalogue_loads(catalogue: Catalogue) -> None:
    assert {NB, PCN, SB} <= set(catalogue.scenarios)
    env = catalogue.envelope
    assert env.scenario_id == "envelope"
    assert env.version == "2.1.0"
    assert [r.id for r in env.rules] == COMMON
    assert {r.stage for r in env.rules} == {"request", "attestation", "quota"}
    assert env.path.endswith("envelope.toml")


def test_common_rules_are_compiled_into_every_scenario(catalogue: Catalogue) -> None:
    for rs in catalogue.scenarios.values():
        common = [r.id for r in rs.rules if r.id in rs.common_rule_ids]
        assert common == [r.id for r in rs.rules[: len(common)]], "common rules run first"
        expected = [rid for rid in COMMON if _applies(rid, rs)]
        if rs.fingerprint is not None:  # the registry record's rules, after the envelope's
            expected += [f"FP-{n}" for n in range(1, 8)]
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
            if "key_next" in params:
                params["key_next"] = tuple(params["key_next"])
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
    assert ids(PCN, "request") == ["PCN-01", "PCN-02", "PCN-LEDGER", "PCN-LEDGER-NEXT"]
    assert ids(PCN, "attestation") == ["PCN-06", "PCN-07", "PCN-08"]
    assert ids(PCN, "quota") == ["PCN-03", "PCN-04"]
    pcn_steps = catalogue.scenarios[PCN].steps
    # the sensitive C10 pair (members, volume) at the exporter (the mainland attester), then the ledger
    assert [(s.kind, s.ledger, s.key) for s in pcn_steps] == [
        ("members", "pipl_scc_sensitive", ("request.attester_inst", "consent.subject_ref_hmac")),
        ("volume", "pipl_scc_sensitive", ("request.attester_inst",)),
        ("ledger", PCN, ("request.requester_inst", "payload.ledger_key_id", "payload.payer_ledger_ref")),
        (
            "ledger",
            PCN,
            ("request.requester_inst", "payload.ledger_key_next_id", "payload.payer_ledger_ref_next"),
        ),  # during a ledger-key rotation: counting only
    ]
    assert [r.id for r in pcn_steps[2].rules] == [r.id for r in pcn_steps[3].rules] == ["PCN-03", "PCN-04"]


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


@pytest.mark.parametrize("same_name", [False, True])
def test_pcn_limits_hold_for_same_name_transfers(catalogue: Catalogue, same_name: bool) -> None:
    """HKMA: the Payment Connect limits are separate from the RMB 80,000 same-name limit [S25], so a
    same-name transfer is held to HKD 10,000 a day and HKD 200,000 a year like any other."""
    rs = catalogue.scenarios[PCN]
    # the quota agent puts each applicable rule's total-after-this-request in quota_used
    ledger = rs.steps[2].rules
    big = Decimal("50000.00")
    used = {"PCN-03": big, "PCN-04": Decimal("250000")}
    found = evaluate(ledger, ctx(payload=pcn_payload(amount_hkd=big, same_name=same_name), quota_used=used))
    assert [(f.rule_id, f.field, f.code) for f in found] == [
        ("PCN-03", "payload.amount_hkd", "LIMIT_EXCEEDED"),
        ("PCN-04", "payload.amount_hkd", "LIMIT_EXCEEDED"),
    ]


def test_nb_when_skips_residence_permit_rule(catalogue: Catalogue) -> None:
    rs = catalogue.scenarios[NB]
    payload = {
        "requested_limit_cny": Decimal("100000.00"),
        "works_in_gba": True,
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


def test_envelope_rejects_a_subject_reference_that_is_not_a_digest(catalogue: Catalogue) -> None:
    request = make_request()
    consent = dict(request["consent"], subject_ref_hmac="A1234563")  # an HKID in clear, not an HMAC
    findings = evaluate(catalogue.envelope.rules, ctx(dict(request, consent=consent)))
    assert [(f.rule_id, f.field, f.code) for f in findings] == [
        ("C5", "consent.subject_ref_hmac", "DIGEST_FORMAT")
    ]
