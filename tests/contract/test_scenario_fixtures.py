"""Every scenario fixture under examples/ gives the outcome its name says, as `crossbound check` does.

Each fixture is first checked offline at its own time (:data:`~crossbound.testing.fixtures.FIXTURE_TIME`,
``crossbound check --now``), then refreshed for the transport's present (new ids, digests and times, see
:mod:`crossbound.testing.fixtures`) and sent: it must come back with the same outcome and finding codes.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from transports import Transport

from crossbound.codec import Codec
from crossbound.rules import Catalogue
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples

# Fingerprint-mode scenarios answer from the registry, not an attestation: test_fingerprint_lookup.py
SCENARIOS = tuple(s for s in examples.discover() if not examples.by_fingerprint(s))


def _check(codec: Codec, catalogue: Catalogue, fixture: examples.Fixture) -> dict[str, Any]:
    """The verdict `crossbound check` gives the fixture at its own time."""
    h = Harness(codec, catalogue, now=examples.FIXTURE_TIME.timestamp())
    out = h.send_request(fixture.request)
    if fixture.attestation is not None:
        assert fixture.attestation["request_id"] == fixture.request["request_id"]
        out += h.send_attestation(fixture.attestation)
    side = str(fixture.request["requester_side"]).lower()
    [verdict] = [p.record for p in out if p.topic == h.topics.verdicts(side)]
    return verdict


def _assert_named_outcome(verdict: dict[str, Any], scenario: str, outcome: str) -> None:
    assert verdict["scenario_id"] == scenario
    assert verdict["outcome"] == outcome, (outcome, verdict["findings"])
    if outcome == "ACCEPT":  # an accepted fixture may carry warnings, nothing worse
        assert all(f["severity"] == "WARN" for f in verdict["findings"])


def _codes(verdict: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in verdict["findings"])


def test_every_scenario_has_its_fixtures() -> None:
    assert len(SCENARIOS) == 26


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_the_scenarios_fixtures_give_the_outcomes_their_names_say(
    transport: Transport, codec: Codec, catalogue: Catalogue, scenario: str
) -> None:
    ex = examples.load(scenario)
    rng = random.Random(f"{scenario}-2026")
    sent: dict[str, tuple[str, dict[str, Any]]] = {}
    for name in examples.FIXTURE_NAMES:
        fixture = ex.fixtures[name]
        offline = _check(codec, catalogue, fixture)
        _assert_named_outcome(offline, scenario, name.upper())
        request, attestation = examples.refresh(fixture, rng, transport.now)
        sent[await transport.send_case(request, attestation)] = (name.upper(), offline)
    side = ex.requester_side.lower()
    verdicts = {v.record["request_id"]: v.record for v in await transport.verdicts(side, len(sent))}
    assert set(verdicts) == set(sent)
    for rid, (outcome, offline) in sent.items():
        _assert_named_outcome(verdicts[rid], scenario, outcome)
        assert _codes(verdicts[rid]) == _codes(offline)
    assert await transport.dead_letters("hk", 0) == []
    assert await transport.dead_letters("sz", 0) == []
