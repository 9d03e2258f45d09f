"""Cases drawn from the domain review (issue 11, items 1 and 2), each with the verdict its source gives.

Every case is a scenario's ``accept`` fixture with a few fields changed, run through the broker-free
Harness at the fixtures' time; a sequence sends several requests for the same person, in order, so the
limits see them together. The source of each expected verdict is cited on the case and in the rule's
description (``rulesets/``); the review with its quoted sources is ``docs/domain-review.md`` (there is
no web access here: the cases follow the source text as the review and scenarios.md quote it).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import Catalogue
from crossbound.rules.engine import applies
from crossbound.rules.model import Context
from crossbound.testing import Harness
from helpers import EXAMPLES, load_json

NOW_DT = datetime.fromisoformat("2026-11-24T09:00:00+00:00")
NOW = NOW_DT.timestamp()  # `crossbound check --now`

Edit = dict[str, Any]  # {"payload": {...}, "consent": {...}, "attestation": {...}}: fields to set


@dataclass(frozen=True)
class Step:
    """One request of a case: the fields changed from the accept fixture, and the verdict expected."""

    edit: Edit
    outcome: str
    codes: frozenset[str] = frozenset()  # finding codes that must be among the verdict's
    absent: frozenset[str] = frozenset()  # finding codes that must not be


@dataclass(frozen=True)
class Case:
    """Requests for one person, sent in order (the limits see all of them)."""

    scenario: str
    steps: tuple[Step, ...]
    why: str = field(default="")


def _step(edit: Edit, outcome: str, codes: tuple[str, ...] = (), absent: tuple[str, ...] = ()) -> Step:
    return Step(edit, outcome, frozenset(codes), frozenset(absent))


def _pay(**fields: Any) -> Edit:
    return {"payload": fields}


CASES: dict[str, Case] = {
    # Payment Connect northbound: HKMA [S25]/[R20]: the limits are "separate from the existing daily
    # remittance limit of RMB 80,000 that applies to same-name transfers".
    "pcn-same-name-50k-over-the-day-limit": Case(
        "payment_connect_northbound",
        (_step(_pay(amount_hkd="50000.00", same_name=True), "REJECT", ("LIMIT_EXCEEDED",)),),
    ),
    "pcn-same-name-shares-the-day-window": Case(
        "payment_connect_northbound",
        (
            _step(_pay(amount_hkd="8000.00", same_name=False), "ACCEPT"),
            _step(_pay(amount_hkd="8000.00", same_name=True), "REJECT", ("LIMIT_EXCEEDED",)),
        ),
    ),
    # WMC northbound: PBoC Guangzhou FAQ [R22c]: WMPs fixed-income or equity, R1-R3, never cash management.
    "wmcnb-wmp-r5": Case(
        "wmc_northbound_eligibility",
        (
            _step(
                _pay(product_type="WMP", product_risk="R5", wmp_category="FIXED_INCOME"),
                "REJECT",
                ("WMP_RISK_ABOVE_R3",),
            ),
        ),
    ),
    "wmcnb-wmp-r4": Case(
        "wmc_northbound_eligibility",
        (
            _step(
                _pay(product_type="WMP", product_risk="R4", wmp_category="EQUITY"),
                "REJECT",
                ("WMP_RISK_ABOVE_R3",),
                ("PRODUCT_RISK_R4",),
            ),
        ),
    ),
    "wmcnb-wmp-mixed": Case(
        "wmc_northbound_eligibility",
        (_step(_pay(product_type="WMP", product_risk="R2", wmp_category="MIXED"), "REJECT", ("WMP_TYPE",)),),
    ),
    "wmcnb-wmp-cash-management": Case(
        "wmc_northbound_eligibility",
        (
            _step(
                _pay(
                    product_type="WMP", product_risk="R1", wmp_category="FIXED_INCOME", cash_management=True
                ),
                "REJECT",
                ("CASH_MANAGEMENT_WMP",),
            ),
        ),
    ),
    "wmcnb-wmp-r3-fixed-income": Case(
        "wmc_northbound_eligibility",
        (_step(_pay(product_type="WMP", product_risk="R3", wmp_category="FIXED_INCOME"), "ACCEPT"),),
    ),
    # WMC remittance quota [R22]: RMB 3 m per investor in total, RMB 1.5 m per channel when both are used.
    "wmcq-one-total-across-channels": Case(
        "wmc_remittance_quota",
        (
            _step(
                {
                    "payload": {"channel": "BANK", "amount_cny": "2000000.00"},
                    "attestation": {"net_used_cny_band": 0},
                },
                "ACCEPT",
            ),
            _step(
                {
                    "payload": {"channel": "SECURITIES", "amount_cny": "1500000.00"},
                    "attestation": {"net_used_cny_band": 0},
                },
                "REJECT",
                ("WMC_INDIVIDUAL_QUOTA",),
            ),
        ),
    ),
    "wmcq-both-channels-1-5m-each": Case(
        "wmc_remittance_quota",
        (
            _step(
                {
                    "payload": {"both_channels": True, "amount_cny": "1000000.00"},
                    "attestation": {"net_used_cny_band": 0},
                },
                "ACCEPT",
            ),
            _step(
                {
                    "payload": {"both_channels": True, "amount_cny": "600000.00"},
                    "attestation": {"net_used_cny_band": 0},
                },
                "REJECT",
                ("WMC_CHANNEL_QUOTA",),
            ),
        ),
    ),
    "wmcq-both-channels-band-over-1-5m": Case(
        "wmc_remittance_quota",
        (
            _step(
                {
                    "payload": {"both_channels": True, "amount_cny": "200000.00"},
                    "attestation": {"net_used_cny_band": 14},
                },
                "REJECT",
                ("WMC_INDIVIDUAL_QUOTA",),
            ),
        ),
    ),
    # EHCV GBA [R24]: spouse sharing and the HK$500 reward: the voucher system's balance_ok decides.
    "ehcv-claim-above-8000-covered": Case(
        "ehcv_gba_claim",
        (_step(_pay(claim_hkd="8500.00"), "REVIEW", ("ABOVE_MAX",)),),
    ),
    "ehcv-year-above-8000-covered": Case(
        "ehcv_gba_claim",
        (
            _step(_pay(claim_hkd="5000.00"), "REVIEW", ("ABOVE_MAX",)),
            _step(
                _pay(claim_hkd="4000.00", invoice_digest="cd" * 32),
                "REVIEW",
                ("ABOVE_MAX",),
                ("ABOVE_ACCUMULATION_CAP",),
            ),
        ),
    ),
    "ehcv-not-covered": Case(
        "ehcv_gba_claim",
        (_step({"attestation": {"balance_ok": False}}, "REJECT", ("CLAIM_ABOVE_BALANCE",)),),
    ),
    # Type II account [S30][R23c]: HK permanent resident aged 18+ and a valid Mainland Travel Permit.
    "t2acc-hkid-without-permit": Case(
        "nb_hk_resident_mainland_type2_account",
        (
            _step(
                {
                    "payload": {"permit_hmac": None},
                    "attestation": {"permit_hmac": None, "permit_valid": None},
                },
                "REJECT",
                ("MISSING",),
            ),
        ),
    ),
    "t2acc-not-permanent-resident": Case(
        "nb_hk_resident_mainland_type2_account",
        (_step({"attestation": {"hk_permanent_resident": False}}, "REJECT", ("NOT_HK_PERMANENT_RESIDENT",)),),
    ),
    # Insurance: cover judged by the insurer, which holds the cover terms; the stay's dates never in clear.
    "insm-insurer-finds-diagnosis-outside-cover": Case(
        "insurance_claim_gba_medical",
        (_step(_pay(cover_confirmed=False), "REVIEW", ("DIAGNOSIS_NOT_IN_COVER",)),),
    ),
    "insm-late-claim": Case(
        "insurance_claim_gba_medical",
        (_step(_pay(days_after_discharge=120), "REVIEW", ("LATE_CLAIM",)),),
    ),
    # Corporate KYC [R29]: small entities may commit instead of filing their beneficial owners.
    "kyc-exempt-small-entity-without-owner-on-file": Case(
        "corporate_kyc_report",
        (
            _step(
                {
                    "attestation": {"ubo_count": 0, "ubo_id_hmacs": [], "bo_filing": "EXEMPT_COMMITTED"},
                    "payload": {"ubo_id_hmacs": []},
                },
                "ACCEPT",
            ),
        ),
    ),
    "kyc-owners-not-filed": Case(
        "corporate_kyc_report",
        (_step({"attestation": {"bo_filing": "NOT_FILED"}}, "REVIEW", ("BO_NOT_FILED",)),),
    ),
    # Southbound personal credit report [R13]: KYC and mortgages are named uses.
    "sbpcr-kyc-purpose": Case(
        "sb_personal_credit_report",
        (
            _step(
                {"payload": {"purpose": "KYC"}, "consent": {"purpose_codes": ["CREDIT_APPLICATION", "KYC"]}},
                "ACCEPT",
            ),
        ),
    ),
    # NBCC: the city where the applicant works no longer crosses; only the GBA yes/no.
    "nbcc-works-outside-gba": Case(
        "nb_hk_resident_consumer_credit",
        (_step(_pay(works_in_gba=False), "ACCEPT", ("OUTSIDE_GBA",)),),
    ),
    # Payment Connect southbound [S28][R20b]: e-mail is an FPS proxy.
    "pcs-email-proxy": Case(
        "payment_connect_southbound",
        (_step(_pay(proxy_type="EMAIL", proxy_format_ok=True), "ACCEPT"),),
    ),
    # PIPL Art 3/39 [S32]: separate cross-border consent wherever mainland-processed PI leaves, whatever
    # the person's residence (these five scenarios are about HK residents and used to skip C3).
    **{
        f"pipl-c3-{sid}": Case(
            sid, (_step({"consent": {"separate_xb_consent": False}}, "REJECT", ("CONSENT_XB_MISSING",)),)
        )
        for sid in (
            "ecny_crossboundary_wallet",
            "nb_hk_resident_mainland_type2_account",
            "wmc_northbound_eligibility",
            "wmc_remittance_quota",
            "nb_hk_resident_consumer_credit",
        )
    },
    # CAC Provisions 2024 [S33]: sensitive PI needs a mechanism; consent alone is not one.
    "pipl-consent-alone-sensitive": Case(
        "payment_connect_northbound",
        (_step({"consent": {"legal_basis": "CONSENT"}}, "REJECT", ("LEGAL_BASIS",)),),
    ),
    "pipl-contract-necessity-sensitive": Case(
        "payment_connect_northbound",
        (_step({"consent": {"legal_basis": "CONTRACT_NECESSITY"}}, "ACCEPT"),),
    ),
    "pipl-gba-sc-sensitive": Case(
        "payment_connect_northbound",
        (_step({"consent": {"legal_basis": "GBA_SC"}}, "ACCEPT"),),
    ),
}


@pytest.fixture
def fresh(codec: Codec, catalogue: Catalogue) -> Callable[[], Harness]:
    return lambda: Harness(codec, catalogue, now=NOW)


def _documents(scenario: str, edit: Edit) -> tuple[dict[str, Any], dict[str, Any] | None]:
    request = load_json(EXAMPLES / scenario / "accept.request.json")
    att_file = EXAMPLES / scenario / "accept.attestation.json"
    attestation = load_json(att_file) if att_file.exists() else None
    request, attestation = copy.deepcopy(request), copy.deepcopy(attestation)
    request["payload"].update(edit.get("payload", {}))
    request["consent"].update(edit.get("consent", {}))
    request_id = str(uuid.uuid4())
    request["request_id"] = request_id
    request["nonce"] = uuid.uuid4().hex
    if attestation is not None:
        attestation["payload"].update(edit.get("attestation", {}))
        attestation["request_id"] = request_id
    return request, attestation


def _verdict(h: Harness, request: dict[str, Any], attestation: dict[str, Any] | None) -> dict[str, Any]:
    side = request["requester_side"].lower()
    out = h.send_request(request)
    verdicts = [p.record for p in out if p.topic == h.topics.verdicts(side)]
    if not verdicts and attestation is not None:
        out = h.send_attestation(attestation)
        verdicts = [p.record for p in out if p.topic == h.topics.verdicts(side)]
    [verdict] = verdicts
    return verdict


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_gives_the_verdict_its_source_says(fresh: Callable[[], Harness], name: str) -> None:
    case = CASES[name]
    h = fresh()
    for i, step in enumerate(case.steps):
        request, attestation = _documents(case.scenario, step.edit)
        verdict = _verdict(h, request, attestation)
        codes = {f["code"] for f in verdict["findings"]}
        assert (verdict["outcome"], step.codes <= codes, codes & step.absent) == (
            step.outcome,
            True,
            set(),
        ), f"{name} step {i}: {verdict['outcome']} {sorted(codes)}"


def test_volume_thresholds_count_under_every_basis_the_provisions_do_not_exempt(catalogue: Catalogue) -> None:
    """C10 counts subjects under CONSENT and SCC_FILED, not under the contract-necessity exemption or the
    GBA standard contract (no volume cap), and at the exporter: the mainland side of the scenario."""
    for sid, rule_id, key in (
        ("payment_connect_northbound", "C10-SENSITIVE-ATT", "request.attester_inst"),
        ("nb_hk_resident_consumer_credit", "C10-SENSITIVE", "request.requester_inst"),
    ):
        rs = catalogue.scenarios[sid]
        [rule] = [r for r in rs.rules if r.id == rule_id]
        assert rule.params["key"] == (key,)
        counted = {
            basis
            for basis in ("CONSENT", "SCC_FILED", "CONTRACT_NECESSITY", "GBA_SC")
            if applies(rule, Context(request={"consent": {"legal_basis": basis}}, payload={}, now=NOW_DT))
        }
        assert counted == {"CONSENT", "SCC_FILED"}, sid


def test_health_scenarios_send_no_dates_in_clear(registry: SchemaRegistry) -> None:
    """A visit's or a stay's date with the person's ID HMAC is health data (PIPL Art 28)."""
    for sid in ("ehcv_gba_claim", "insurance_claim_gba_medical"):
        for kind in ("request", "attestation"):
            fields = registry.current(f"scenarios/{sid}/{kind}").raw["fields"]
            dates = [
                f["name"]
                for f in fields
                if isinstance(f["type"], dict) and f["type"].get("logicalType") == "date"
            ]
            assert dates == [], (sid, kind)


def test_permit_formats_of_non_chinese_permanent_residents_are_documented(registry: SchemaRegistry) -> None:
    """The attester's permit_valid follows the home_return_permit check, which accepts HA/MA + 7 digits."""
    from crossbound.identifiers import check

    assert check("home_return_permit", "HA1234567").valid
    fields = registry.current("scenarios/nb_hk_resident_mainland_type2_account/attestation").raw["fields"]
    [doc] = [f["doc"] for f in fields if f["name"] == "permit_valid"]
    assert "HA or MA and 7 digits" in doc
