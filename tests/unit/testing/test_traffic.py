"""Unit tests of crossbound.testing.traffic: every scenario and variant through the in-memory Harness."""

from __future__ import annotations

import hmac
import random
import re
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from crossbound._data import default_examples_dir, default_rulesets_dir, default_schemas_dir
from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import Catalogue, load_catalogue
from crossbound.testing import Harness, Published
from crossbound.testing import fixtures as examples
from crossbound.testing.handwritten import HANDWRITTEN
from crossbound.testing.synthetic import (
    random_cn_resident_id,
    random_hkid,
    random_unionpay_card,
)
from crossbound.testing.traffic import (
    DEFAULT_WEIGHTS,
    FINGERPRINT_VARIANTS,
    VARIANTS,
    Case,
    Traffic,
    fingerprint_scenarios,
    scenarios,
)

SCENARIOS = scenarios()
NOW = 1_795_000_000.0  # 2026-11-18T07:46:40Z
TIMEOUT_S = 30.0
PER_VARIANT = 30  # enough draws to hit every sub-kind of a variant
FROM_FIXTURES = tuple(s for s in SCENARIOS if s not in HANDWRITTEN)
FIXTURE_OF = {"valid": "accept", "review": "review", "invalid": "reject"}
LOCAL = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def loaded() -> tuple[Codec, Catalogue]:
    registry = SchemaRegistry.load(default_schemas_dir())
    return Codec(registry), load_catalogue(default_rulesets_dir(), registry)


@pytest.fixture
def harness(loaded: tuple[Codec, Catalogue]) -> Harness:
    codec, catalogue = loaded
    return Harness(codec, catalogue, now=NOW, attestation_timeout_s=TIMEOUT_S)


Findings = list[tuple[str, str]]


@pytest.fixture(scope="module")
def fixture_findings(loaded: tuple[Codec, Catalogue]) -> dict[tuple[str, str], tuple[str, Findings]]:
    """Outcome and sorted (code, severity) findings of every fixture, evaluated at its own time."""
    codec, catalogue = loaded
    out: dict[tuple[str, str], tuple[str, Findings]] = {}
    for scenario in FROM_FIXTURES:
        for name, fixture in examples.load(scenario).fixtures.items():
            h = Harness(codec, catalogue, now=examples.FIXTURE_TIME.timestamp())
            published = h.send_request(fixture.request)
            if fixture.attestation is not None:
                published += h.send_attestation(fixture.attestation)
            side = str(fixture.request["requester_side"]).lower()
            [verdict] = [p.record for p in published if p.topic == h.topics.verdicts(side)]
            out[scenario, name] = verdict["outcome"], _sorted_findings(verdict)
    return out


def _sorted_findings(verdict: dict[str, Any]) -> Findings:
    return sorted((f["code"], f["severity"]) for f in verdict["findings"])


def _verdict_of(h: Harness, case: Case, steps: dict[str, list[Published]]) -> dict[str, Any]:
    side = h.topics.verdicts(case.requester_side.lower())
    [verdict] = [p.record for ps in steps.values() for p in ps if p.topic == side]
    return verdict


def _run(h: Harness, case: Case, now: float) -> tuple[str, list[str], dict[str, list[Published]]]:
    """Play one case; returns (outcome or DEADLETTER, codes or [reason], what each step published)."""
    h.now = now
    side = case.requester_side.lower()
    steps: dict[str, list[Published]] = {}
    if case.raw is not None:
        steps["raw"] = h.send(h.topics.requests(side), case.key, case.raw)
    else:
        assert case.request is not None
        steps["request"] = h.send_request(case.request)
        if case.attestation is not None:
            steps["attestation"] = h.send_attestation(case.attestation)
        if case.variant == "late":
            steps["timeout"] = h.advance(TIMEOUT_S + 1)
    published = [p for ps in steps.values() for p in ps]
    dead = [p.record for p in published if p.topic == h.topics.deadletter(side)]
    if dead:
        assert len(dead) == 1
        return "DEADLETTER", [dead[0]["reason"]], steps
    verdicts = [p.record for p in published if p.topic == h.topics.verdicts(side)]
    assert len(verdicts) == 1, [p.topic for p in published]
    return verdicts[0]["outcome"], [f["code"] for f in verdicts[0]["findings"]], steps


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_and_variant_reaches_its_expected_outcome(
    harness: Harness,
    fixture_findings: dict[tuple[str, str], tuple[str, Findings]],
    scenario: str,
    variant: str,
) -> None:
    traffic = Traffic(seed=100 * SCENARIOS.index(scenario) + VARIANTS.index(variant), now=NOW)
    handwritten = scenario in HANDWRITTEN
    seen_codes: set[tuple[str, ...]] = set()
    for _ in range(PER_VARIANT):  # through one harness: state left by earlier cases must not matter
        case = traffic.case(scenario, variant)
        assert case.scenario_id == scenario
        assert case.variant == variant
        outcome, codes, steps = _run(harness, case, traffic.now)
        assert outcome == case.expected, (case.expected_codes, codes)
        assert set(case.expected_codes) <= set(codes), (case.expected_codes, codes)
        seen_codes.add(case.expected_codes)
        ask = harness.topics.attestation_requests(case.attester_side.lower())
        if not handwritten and variant in FIXTURE_OF:
            # The same findings as the fixture it was made from gives at the fixtures' own time.
            _, findings = fixture_findings[scenario, FIXTURE_OF[variant]]
            assert _sorted_findings(_verdict_of(harness, case, steps)) == findings
        if variant == "valid":
            assert outcome == "ACCEPT"
        elif variant == "review":
            assert outcome == "REVIEW"
        elif variant == "invalid":
            assert outcome == "REJECT"
            if handwritten or case.attestation is None:
                # Decided at the request stage: no attestation was asked for, none is needed.
                assert case.attestation is None
                assert not any(p.topic == ask for p in steps["request"])
        elif variant == "mismatch":
            assert outcome == "REJECT"
            assert ("DIGEST_MISMATCH" if handwritten else "ATTESTATION_NOT_FOUND") in codes
            assert any(p.topic == ask for p in steps["request"])
        elif variant == "late":
            assert case.attestation is None
            assert outcome == ("REJECT" if handwritten else examples.load(scenario).timeout_outcome)
            if handwritten:
                assert codes == ["ATTESTATION_TIMEOUT"]
            else:  # and the accept fixture's warnings, if any
                assert "ATTESTATION_TIMEOUT" in codes
        else:
            assert case.request is None
            assert case.attestation is None
            assert outcome == "DEADLETTER"
    if variant == "undecodable" or (
        handwritten
        and (variant == "invalid" or (variant == "review" and scenario != "payment_connect_northbound"))
    ):
        assert len(seen_codes) > 1, "the variant should vary how it fails"


def test_every_scenario_of_the_catalogue_is_simulated(loaded: tuple[Codec, Catalogue]) -> None:
    _, catalogue = loaded
    assert set(SCENARIOS) | set(fingerprint_scenarios()) == set(catalogue.scenarios)
    assert not set(SCENARIOS) & set(fingerprint_scenarios())
    assert len(SCENARIOS) == len(set(SCENARIOS))
    assert SCENARIOS[: len(HANDWRITTEN)] == HANDWRITTEN
    assert list(FROM_FIXTURES) == sorted(FROM_FIXTURES)
    assert set(examples.discover()) >= set(FROM_FIXTURES)
    for scenario in FROM_FIXTURES:  # shipped with the package, next to the schemas and rule sets
        assert (default_examples_dir() / scenario / "accept.request.json").is_file()


def test_fixtures_give_the_outcome_their_name_says(
    fixture_findings: dict[tuple[str, str], tuple[str, Findings]],
) -> None:
    """What the fixture-based variants' expectations rest on (tests/contract checks it too)."""
    for (scenario, name), (outcome, _) in fixture_findings.items():
        assert outcome == name.upper(), scenario
    assert len(fixture_findings) == 3 * len(FROM_FIXTURES)


def test_case_envelope_and_attestation_agree() -> None:
    traffic = Traffic(seed=7, now=NOW)
    created = datetime.fromtimestamp(NOW, UTC)
    for scenario in HANDWRITTEN:
        for variant in ("valid", "review", "mismatch"):
            case = traffic.case(scenario, variant)
            req, att = case.request, case.attestation
            assert req is not None
            assert att is not None
            assert uuid.UUID(req["request_id"]).version == 4
            assert re.fullmatch(r"[0-9a-f]{32}", req["nonce"])
            assert datetime.fromisoformat(req["created_at"]) == created
            assert datetime.fromisoformat(req["expires_at"]) == created + timedelta(hours=1)
            assert req["digest_alg"] == "SHA256"
            assert req["hmac_key_id"] == "demo-2026"
            consent = req["consent"]
            assert consent["recipient_inst"]["id"] == req["requester_inst"]["id"]
            assert consent["separate_xb_consent"] is True
            assert consent["legal_basis"] in ("SCC_FILED", "CONTRACT_NECESSITY")  # a mechanism (C11)
            assert consent["withdrawn"] is False
            assert att["request_id"] == req["request_id"]
            assert att["attester_side"] == req["attester_side"] == case.attester_side
            assert att["attester_inst"] == req["attester_inst"]
            assert att["status"] == "FOUND"
            assert datetime.fromisoformat(att["attested_at"]) == created


def test_valid_attestations_repeat_the_request_digests() -> None:
    traffic = Traffic(seed=3, now=NOW)
    pairs = {
        "sb_corporate_credit_report": ("report_digest", "legal_rep_id_hmac"),
        "nb_hk_resident_consumer_credit": ("credit_report_digest", "hkid_hmac"),
        "payment_connect_northbound": ("payee_acct_hmac",),
    }
    for scenario, fields in pairs.items():
        case = traffic.case(scenario, "valid")
        assert case.request is not None
        assert case.attestation is not None
        for name in fields:
            assert case.request["payload"][name] == case.attestation["payload"][name]


def test_the_seeded_mix_is_reproducible() -> None:
    first = [(c.request_id, c.variant, c.scenario_id) for c in Traffic(seed=42, now=NOW).mix(300)]
    again = [(c.request_id, c.variant, c.scenario_id) for c in Traffic(seed=42, now=NOW + 999).mix(300)]
    other = [(c.request_id, c.variant, c.scenario_id) for c in Traffic(seed=43, now=NOW).mix(300)]
    assert first == again
    assert first != other
    assert len({rid for rid, _, _ in first}) == 300


def test_the_default_mix_follows_the_weights() -> None:
    n = 6000
    cases = list(Traffic(seed=1, now=NOW).mix(n))
    variants = Counter(c.variant for c in cases)
    for variant, weight in DEFAULT_WEIGHTS.items():
        assert abs(variants[variant] / n - weight) < 0.03, (variant, variants[variant])
    scenarios = Counter(c.scenario_id for c in cases)
    assert set(scenarios) == set(SCENARIOS)
    assert min(scenarios.values()) > n / len(SCENARIOS) * 0.75


def test_mix_with_chosen_scenarios_and_weights() -> None:
    cases = list(
        Traffic(seed=5, now=NOW).mix(50, scenarios=["payment_connect_northbound"], weights={"late": 1})
    )
    assert {(c.scenario_id, c.variant) for c in cases} == {("payment_connect_northbound", "late")}
    with pytest.raises(ValueError, match="unknown variants"):
        list(Traffic().mix(1, weights={"bogus": 1.0}))
    with pytest.raises(ValueError, match="not all zero"):
        list(Traffic().mix(1, weights={"valid": 0.0}))
    with pytest.raises(ValueError, match="unknown scenario"):
        list(Traffic().mix(1, scenarios=["nope"]))
    with pytest.raises(ValueError, match="unknown scenario"):
        Traffic().case("nope", "valid")
    with pytest.raises(ValueError, match="unknown variant"):
        Traffic().case("payment_connect_northbound", "nope")


def test_a_whole_mix_through_one_harness(harness: Harness) -> None:
    traffic = Traffic(seed=11, now=NOW)
    outcomes: Counter[str] = Counter()
    late: list[Case] = []
    for case in traffic.mix(600):
        if case.variant == "late":
            late.append(case)  # their timeouts are all fired together below
            harness.send_request(case.request or {})
            continue
        outcome, codes, _ = _run(harness, case, traffic.now)
        assert outcome == case.expected, (case.variant, case.expected_codes, codes)
        assert set(case.expected_codes) <= set(codes)
        outcomes[outcome] += 1
    fired = harness.advance(TIMEOUT_S + 1)
    late_ids = {c.request_id for c in late}
    timed_out = [p.record for p in fired if p.topic.endswith(".verdicts")]
    assert {v["request_id"] for v in timed_out} == late_ids
    expected = {c.request_id: c.expected for c in late}
    assert all(v["outcome"] == expected[v["request_id"]] for v in timed_out)
    assert "REJECT" in expected.values()
    assert set(outcomes) == {"ACCEPT", "REVIEW", "REJECT", "DEADLETTER"}


def test_payments_for_one_payer_hit_the_day_limit(harness: Harness) -> None:
    traffic = Traffic(seed=9, now=NOW)
    cases = traffic.payments_for_one_payer(3, 4000)
    reqs = [c.request for c in cases]
    assert all(r is not None for r in reqs)
    assert len({r["payload"]["payer_hkid_hmac"] for r in reqs if r}) == 1
    assert len({r["payload"]["payer_ledger_ref"] for r in reqs if r}) == 1  # the limit key
    assert len({(r["requester_inst"]["scheme"], r["requester_inst"]["id"]) for r in reqs if r}) == 1
    assert len({r["request_id"] for r in reqs if r}) == 3
    assert [c.expected for c in cases] == ["ACCEPT", "ACCEPT", "REJECT"]
    results = [_run(harness, c, traffic.now)[:2] for c in cases]
    assert [o for o, _ in results] == ["ACCEPT", "ACCEPT", "REJECT"]
    assert "LIMIT_EXCEEDED" in results[2][1]
    assert not results[0][1]
    assert not results[1][1]
    # Another payer at the same moment is not affected.
    [other] = traffic.payments_for_one_payer(1, 4000)
    assert _run(harness, other, traffic.now)[0] == "ACCEPT"


def test_valid_payments_of_fresh_payers_never_hit_a_limit(harness: Harness) -> None:
    traffic = Traffic(seed=12, now=NOW)
    for _ in range(60):
        case = traffic.case("payment_connect_northbound", "valid")
        outcome, codes, _ = _run(harness, case, traffic.now)
        assert outcome == "ACCEPT", codes


# -- scenarios made from their fixtures -------------------------------------------------------------

_HEX64 = re.compile(r"[0-9a-f]{64}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Other dates: a Monday morning, just after and just before local midnight (UTC+8), a leap day, years on.
OTHER_NOWS = (
    "2027-03-15T09:00:00Z",
    "2027-03-15T16:00:30Z",
    "2027-03-15T15:59:59Z",
    "2028-02-29T03:30:00.250Z",
    "2031-07-01T12:00:00Z",
)


def _leaves(old: Any, new: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, fixture value, case value) for every leaf of two documents of the same shape."""
    if isinstance(old, dict):
        assert isinstance(new, dict)
        assert list(old) == list(new), path
        for k in old:
            yield from _leaves(old[k], new[k], f"{path}.{k}")
    elif isinstance(old, list):
        assert isinstance(new, list)
        assert len(old) == len(new), path
        for i, (o, n) in enumerate(zip(old, new, strict=True)):
            yield from _leaves(o, n, f"{path}[{i}]")
    else:
        yield path, old, new


def _fixture_and_case(case: Case) -> list[tuple[str, Any, Any]]:
    fixture = examples.load(case.scenario_id).fixtures[FIXTURE_OF[case.variant]]
    assert case.request is not None
    leaves = list(_leaves(fixture.request, case.request, "request"))
    if fixture.attestation is not None:
        assert case.attestation is not None
        leaves += _leaves(fixture.attestation, case.attestation, "attestation")
    return leaves


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("when", OTHER_NOWS)
def test_fixture_cases_on_other_dates(
    loaded: tuple[Codec, Catalogue],
    fixture_findings: dict[tuple[str, str], tuple[str, Findings]],
    when: str,
) -> None:
    now = _instant(when)
    fixture_time = examples.FIXTURE_TIME
    days = (now.astimezone(LOCAL).date() - fixture_time.astimezone(LOCAL).date()).days
    codec, catalogue = loaded
    h = Harness(codec, catalogue, now=now.timestamp(), attestation_timeout_s=TIMEOUT_S)
    traffic = Traffic(seed=17, now=now.timestamp())
    for scenario in FROM_FIXTURES:
        for variant in ("valid", "review", "invalid", "mismatch", "late"):
            case = traffic.case(scenario, variant)
            outcome, codes, steps = _run(h, case, traffic.now)
            assert outcome == case.expected, (scenario, variant, codes)
            if variant in FIXTURE_OF:
                _, findings = fixture_findings[scenario, FIXTURE_OF[variant]]
                assert _sorted_findings(_verdict_of(h, case, steps)) == findings, (scenario, variant)
                for path, old, new in _fixture_and_case(case):
                    if not isinstance(old, str) or path.endswith((".request_id", ".nonce")):
                        continue
                    if _DAY.fullmatch(old):
                        assert date.fromisoformat(new) - date.fromisoformat(old) == timedelta(days=days), path
                    elif "T" in old and _DAY.fullmatch(old[:10]):
                        moved = _instant(new) - _instant(old)
                        assert abs(moved - (now - fixture_time)) < timedelta(milliseconds=1), path
                    elif not _HEX64.fullmatch(old):
                        assert new == old, path


def test_a_request_made_after_local_midnight_counts_days_in_utc_plus_8() -> None:
    # 2027-03-15T16:00:30Z is 2027-03-16 00:00:30 in Hong Kong / Shenzhen: dates move by 112 days, not 111.
    now = _instant("2027-03-15T16:00:30Z").timestamp()
    for scenario in FROM_FIXTURES:
        case = Traffic(seed=3, now=now).case(scenario, "valid")
        for path, old, new in _fixture_and_case(case):
            if isinstance(old, str) and _DAY.fullmatch(old):
                assert (date.fromisoformat(new) - date.fromisoformat(old)).days == 112, path
    assert (date(2027, 3, 16) - date(2026, 11, 24)).days == 112


def test_fixture_digests_are_remapped_consistently() -> None:
    traffic = Traffic(seed=23, now=NOW)
    for scenario in FROM_FIXTURES:
        for variant in FIXTURE_OF:
            first, second = traffic.case(scenario, variant), traffic.case(scenario, variant)
            hexes: dict[str, list[tuple[str, str, str]]] = {"first": [], "second": []}
            for label, case in (("first", first), ("second", second)):
                for path, old, new in _fixture_and_case(case):
                    if isinstance(old, str) and _HEX64.fullmatch(old):
                        assert _HEX64.fullmatch(new), path
                        hexes[label].append((path, old, new))
            pairs = hexes["first"]
            olds = {old for _, old, _ in pairs}
            # Same old value <-> same new value: matches stay matches, differences stay differences.
            for _, a_old, a_new in pairs:
                for _, b_old, b_new in pairs:
                    assert (a_old == b_old) == (a_new == b_new)
                assert a_new not in olds
            # Fresh per case: nothing a stateful rule keys on repeats from one case to the next.
            assert not {n for _, _, n in pairs} & {n for _, _, n in hexes["second"]}
            assert first.request is not None
            assert second.request is not None
            assert first.request["request_id"] != second.request["request_id"]
            assert first.request["nonce"] != second.request["nonce"]


def test_a_fixture_digest_match_stays_a_match() -> None:
    traffic = Traffic(seed=29, now=NOW)
    matched = 0
    for scenario in FROM_FIXTURES:
        fixture = examples.load(scenario).fixtures["accept"]
        case = traffic.case(scenario, "valid")
        assert fixture.attestation is not None
        assert case.request is not None
        assert case.attestation is not None
        for name, value in fixture.request["payload"].items():
            theirs = fixture.attestation["payload"] or {}
            if isinstance(value, str) and _HEX64.fullmatch(value) and theirs.get(name) == value:
                assert case.request["payload"][name] == case.attestation["payload"][name]
                assert case.request["payload"][name] != value
                matched += 1
    assert matched >= len(FROM_FIXTURES) // 2  # most scenarios match a digest with the data holder


def test_fixture_cases_envelope() -> None:
    traffic = Traffic(seed=31, now=NOW)
    for scenario in FROM_FIXTURES:
        for variant in ("valid", "review", "invalid", "mismatch", "late"):
            case = traffic.case(scenario, variant)
            req, att = case.request, case.attestation
            assert req is not None
            assert uuid.UUID(req["request_id"]).version == 4
            assert re.fullmatch(r"[0-9a-f]{32}", req["nonce"])
            assert req["scenario_id"] == scenario
            assert (req["requester_side"], req["attester_side"]) == (case.requester_side, case.attester_side)
            # Times keep their distance from the fixtures' evaluation time (created an hour before, say).
            created = _instant(req["created_at"])
            fixture = examples.load(scenario).fixtures[FIXTURE_OF.get(variant, "accept")]
            lead = examples.FIXTURE_TIME - _instant(fixture.request["created_at"])
            assert abs(datetime.fromtimestamp(NOW, UTC) - created - lead) < timedelta(milliseconds=1)
            if variant == "late":
                assert att is None
                assert case.expected_codes == ("ATTESTATION_TIMEOUT",)
            elif variant == "mismatch":
                assert att is not None
                assert (att["status"], att["payload"]) == ("NOT_FOUND", None)
                assert case.expected_codes == ("ATTESTATION_NOT_FOUND",)
            if att is not None:
                assert att["request_id"] == req["request_id"]
                assert att["attester_side"] == case.attester_side


def test_fixture_cases_are_reproducible_whatever_the_time() -> None:
    later = _instant("2027-05-02T01:02:03Z").timestamp()

    def draw(seed: int, now: float) -> list[Case]:
        traffic = Traffic(seed=seed, now=now)
        return [traffic.case(s, v) for s in FROM_FIXTURES for v in VARIANTS]

    first, again, moved, other = draw(5, NOW), draw(5, NOW), draw(5, later), draw(6, NOW)
    assert first == again
    assert [c.request_id for c in first] == [c.request_id for c in moved]
    assert [c.request_id for c in first] != [c.request_id for c in other]
    for a, b in zip(first, moved, strict=True):
        if a.request is None:
            assert a.raw == b.raw
            continue
        assert b.request is not None
        for path, x, y in _leaves(a.request, b.request):
            if isinstance(x, str) and (_HEX64.fullmatch(x) or path.endswith(".nonce")):
                assert x == y, path  # the same digests, only the times move
        assert a.request["created_at"] != b.request["created_at"]


# -- no clear personal identifiers --------------------------------------------------------------------

_PI_PATTERNS = {
    "hkid": re.compile(r"[A-Z]{1,2}[0-9]{6}\(?[0-9A]\)?"),
    "cn_id": re.compile(r"[0-9]{17}[0-9Xx]"),
    "card": re.compile(r"[0-9]{16,19}"),
    "phone": re.compile(r"\+(?:86|852)[0-9]{8,11}"),
}
_INSTITUTION_KEYS = frozenset({"requester_inst", "attester_inst", "recipient_inst"})
# HK business registration numbers (``hk_brn``, ``supplier_hk_brn``, ...): "a letter and 7 digits" has
# an HKID's shape, but names a company.
_COMPANY_KEY_SUFFIX = "hk_brn"


def _strings(obj: Any, skip: frozenset[str]) -> Iterator[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in skip and not k.endswith(_COMPANY_KEY_SUFFIX):
                yield from _strings(v, skip)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v, skip)
    elif isinstance(obj, str):
        yield obj


def _pi_hits(value: str) -> list[str]:
    hits = [name for name, rx in _PI_PATTERNS.items() if rx.fullmatch(value)]
    for name, rx in _PI_PATTERNS.items():
        # Also inside longer text, when not merely part of a longer run of letters/digits (hex digests).
        bounded = re.compile(rf"(?<![0-9A-Za-z]){rx.pattern}(?![0-9A-Za-z])")
        if bounded.search(value):
            hits.append(name)
    return hits


def test_no_case_carries_a_clear_personal_identifier() -> None:
    traffic = Traffic(seed=21, now=NOW)
    checked = 0
    for case in traffic.mix(3000, weights={v: 1.0 for v in VARIANTS if v != "undecodable"}):
        for doc in (case.request, case.attestation):
            for value in _strings(doc, _INSTITUTION_KEYS):
                assert not _pi_hits(value), (case.scenario_id, case.variant, _pi_hits(value))
                checked += 1
    assert checked > 50_000


def test_the_pi_check_would_catch_clear_identifiers() -> None:
    rng = random.Random(0)
    assert "hkid" in _pi_hits(random_hkid(rng))
    assert "hkid" in _pi_hits("A123456(3)")
    assert "cn_id" in _pi_hits(random_cn_resident_id(rng))
    assert "card" in _pi_hits(random_unionpay_card(rng))
    assert "phone" in _pi_hits("call +85291234567")


# -- HMACs and undecodable bytes ------------------------------------------------------------------


def test_identifier_fields_are_hmacs_under_the_pair_key() -> None:
    key = b"another-pair-key"
    traffic = Traffic(seed=2, now=NOW, pair_key=key)
    default = Traffic(seed=2, now=NOW)
    a = traffic.case("payment_connect_northbound", "valid").request
    b = default.case("payment_connect_northbound", "valid").request
    assert a is not None
    assert b is not None
    assert a["request_id"] == b["request_id"]  # same draws ...
    assert not hmac.compare_digest(
        a["payload"]["payer_hkid_hmac"], b["payload"]["payer_hkid_hmac"]
    )  # other key


def test_undecodable_bytes_vary() -> None:
    traffic = Traffic(seed=8, now=NOW)
    reasons: Counter[tuple[str, ...]] = Counter()
    for _ in range(90):
        case = traffic.case("sb_corporate_credit_report", "undecodable")
        assert case.raw is not None
        assert case.key is not None
        reasons[case.expected_codes] += 1
    assert set(reasons) == {("bad_magic",), ("unknown_schema",), ("undecodable",)}


def test_importing_the_traffic_modules_scans_nothing() -> None:
    # the scenario list and the rule sets are read on first use, not at import
    code = (
        "from crossbound.testing import handwritten, traffic\n"
        "assert traffic.scenarios.cache_info().currsize == 0\n"
        "assert handwritten.ruleset.cache_info().currsize == 0\n"
        "assert traffic.scenarios()[:3] == handwritten.HANDWRITTEN\n"
        "assert traffic.scenarios.cache_info().currsize == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("scenario", fingerprint_scenarios())
@pytest.mark.parametrize("variant", FINGERPRINT_VARIANTS)
def test_fingerprint_cases_reach_their_expected_outcome(
    loaded: tuple[Codec, Catalogue], scenario: str, variant: str
) -> None:
    codec, catalogue = loaded
    h = Harness(codec, catalogue, now=NOW)
    case = Traffic(seed=3, now=NOW).fingerprint_case(scenario, variant)
    assert case.attestation is None
    for record in case.fingerprints:
        assert h.send_fingerprint(record) == []  # taken in: nothing is published
    assert case.request is not None
    [verdict] = [p.record for p in h.send_request(case.request)]
    assert verdict["outcome"] == case.expected
    assert set(case.expected_codes) <= {f["code"] for f in verdict["findings"]}


def test_fingerprint_cases_are_not_in_the_mix() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        Traffic(seed=1, now=NOW).case(fingerprint_scenarios()[0], "valid")
