"""The fixtures under examples/ (used by `crossbound check` and the docs) give the outcome their names say."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from crossbound.testing import Harness, fixtures

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RULESETS = EXAMPLES.parent / "rulesets"
NOW = datetime.fromisoformat("2026-11-24T09:00:00+00:00").timestamp()  # `crossbound check --now`
# Every scenario of the catalogue (each rule set but the envelope's).
SCENARIOS = tuple(sorted(p.stem for p in RULESETS.glob("*.toml") if p.name != "envelope.toml"))
NAMES = ("accept", "review", "reject")
REQUESTS = sorted(EXAMPLES.glob("*/*.request.json"))


@pytest.fixture(scope="module")
def fresh() -> Any:
    proto = Harness.from_dirs()

    def make() -> Harness:
        return Harness(proto.codec, proto.catalogue, now=NOW)

    return make


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


def _evaluate(h: Harness, request_file: Path) -> tuple[dict[str, Any], bool]:
    request = _load(request_file)
    att_file = request_file.with_name(request_file.name.replace(".request.", ".attestation."))
    side = request["requester_side"].lower()
    out = h.send_request(request)
    if att_file.exists():
        attestation = _load(att_file)
        assert attestation["request_id"] == request["request_id"]
        out += h.send_attestation(attestation)
    [verdict] = [p.record for p in out if p.topic == h.topics.verdicts(side)]
    return verdict, att_file.exists()


def test_every_scenario_has_the_three_fixtures() -> None:
    for scenario in SCENARIOS:
        for name in NAMES:
            assert (EXAMPLES / scenario / f"{name}.request.json").is_file()
    assert len(REQUESTS) == len(SCENARIOS) * len(NAMES)


@pytest.mark.parametrize("request_file", REQUESTS, ids=lambda p: f"{p.parent.name}/{p.name.split('.')[0]}")
def test_fixture_gives_the_outcome_in_its_name(fresh: Any, request_file: Path) -> None:
    h = fresh()
    verdict, _ = _evaluate(h, request_file)
    expected = request_file.name.split(".")[0].upper()
    assert verdict["outcome"] == expected, verdict["findings"]
    if expected == "ACCEPT":
        assert all(f["severity"] == "WARN" for f in verdict["findings"])
    assert verdict["scenario_id"] == request_file.parent.name


def test_fixtures_without_attestation_are_request_stage_rejects(fresh: Any) -> None:
    for request_file in REQUESTS:
        att = request_file.with_name(request_file.name.replace(".request.", ".attestation."))
        if not att.exists():
            assert request_file.name.startswith("reject.")


def test_a_reject_comes_from_an_attestation_digest_mismatch(fresh: Any) -> None:
    verdict, had_attestation = _evaluate(
        fresh(), EXAMPLES / "sb_corporate_credit_report" / "reject.request.json"
    )
    assert had_attestation
    assert verdict["outcome"] == "REJECT"
    assert [f["code"] for f in verdict["findings"] if f["severity"] == "REJECT"] == ["DIGEST_MISMATCH"]


def test_fixtures_expire_after_the_evaluation_time(fresh: Any) -> None:
    """Fixed timestamps: evaluated after expires_at, a fixture is rejected as EXPIRED."""
    h = fresh()
    h.now = datetime.fromisoformat("2026-11-24T20:00:00+00:00").timestamp()
    verdict, _ = _evaluate(h, EXAMPLES / "payment_connect_northbound" / "accept.request.json")
    assert verdict["outcome"] == "REJECT"
    assert "EXPIRED" in [f["code"] for f in verdict["findings"]]


@pytest.mark.parametrize(
    ("scenario", "outcome"), [("sb_corporate_credit_report", "REJECT"), ("corporate_kyc_report", "REVIEW")]
)
def test_fixtures_know_their_timeout_verdict(scenario: str, outcome: str) -> None:
    # timeout_severity = "reject" / "review" in the rule file's [scenario] header
    assert fixtures.load(scenario).timeout_outcome == outcome
