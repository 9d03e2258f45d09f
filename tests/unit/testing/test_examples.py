"""The fixtures under examples/ (used by `crossbound check` and the docs): complete, and what they show.

That each fixture gives the outcome its name says, offline and through both transports, is a contract
test (tests/contract/test_scenario_fixtures.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from crossbound.codec import Codec
from crossbound.rules import Catalogue
from crossbound.testing import Harness, fixtures
from helpers import EXAMPLES, RULESETS, load_json

NOW = datetime.fromisoformat("2026-11-24T09:00:00+00:00").timestamp()  # `crossbound check --now`
# Every scenario of the catalogue (each rule set but the envelope's).
SCENARIOS = tuple(sorted(p.stem for p in RULESETS.glob("*.toml") if p.name != "envelope.toml"))
NAMES = ("accept", "review", "reject")
REQUESTS = sorted(EXAMPLES.glob("*/*.request.json"))


@pytest.fixture
def fresh(codec: Codec, catalogue: Catalogue) -> Callable[[], Harness]:
    return lambda: Harness(codec, catalogue, now=NOW)


def _evaluate(h: Harness, request_file: Path) -> tuple[dict[str, Any], bool]:
    request = load_json(request_file)
    att_file = request_file.with_name(request_file.name.replace(".request.", ".attestation."))
    side = request["requester_side"].lower()
    out = h.send_request(request)
    if att_file.exists():
        attestation = load_json(att_file)
        assert attestation["request_id"] == request["request_id"]
        out += h.send_attestation(attestation)
    [verdict] = [p.record for p in out if p.topic == h.topics.verdicts(side)]
    return verdict, att_file.exists()


def test_every_scenario_has_the_three_fixtures() -> None:
    for scenario in SCENARIOS:
        for name in NAMES:
            assert (EXAMPLES / scenario / f"{name}.request.json").is_file()
    assert len(REQUESTS) == len(SCENARIOS) * len(NAMES)


def test_fixtures_without_attestation_are_request_stage_rejects() -> None:
    """Or are answered from the registry: a fingerprint-mode fixture carries its record instead."""
    for request_file in REQUESTS:
        att = request_file.with_name(request_file.name.replace(".request.", ".attestation."))
        fingerprint = request_file.with_name(request_file.name.replace(".request.", ".fingerprint."))
        assert not (att.exists() and fingerprint.exists())
        if not att.exists() and not fingerprint.exists():
            assert request_file.name.startswith("reject.")


def test_a_reject_comes_from_an_attestation_digest_mismatch(fresh: Callable[[], Harness]) -> None:
    verdict, had_attestation = _evaluate(
        fresh(), EXAMPLES / "sb_corporate_credit_report" / "reject.request.json"
    )
    assert had_attestation
    assert verdict["outcome"] == "REJECT"
    assert [f["code"] for f in verdict["findings"] if f["severity"] == "REJECT"] == ["DIGEST_MISMATCH"]


def test_fixtures_expire_after_the_evaluation_time(fresh: Callable[[], Harness]) -> None:
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
