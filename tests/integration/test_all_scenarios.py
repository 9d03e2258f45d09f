"""Every scenario's ACCEPT / REVIEW / REJECT fixtures, end to end through the real worker and broker.

The fixtures (``examples/<scenario>/``) are refreshed for the present (new request ids, nonces and
digests, times shifted to now, see :mod:`crossbound.testing.fixtures`) and published in one run; each must
come back with the outcome its name says and the same findings ``crossbound check`` gives offline.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from crossbound.testing import Harness
from crossbound.testing import fixtures as examples
from crossbound.testing.traffic import Case
from support import Bus, Worker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _offline_codes(harness: Harness, case: Case) -> list[str]:
    assert case.request is not None
    out = harness.send_request(case.request)
    if case.attestation is not None and not any(p.topic.endswith(".verdicts") for p in out):
        out += harness.send_attestation(case.attestation)
    [verdict] = [p.record for p in out if p.topic.endswith(".verdicts")]
    return sorted(f["code"] for f in verdict["findings"])


async def test_every_scenario_fixture_through_the_broker(worker: Worker, bus: Bus) -> None:
    scenarios = examples.discover()
    assert len(scenarios) == 26
    rng = random.Random(2026)
    now = time.time()
    offline = Harness.from_dirs(now=now)
    cases: dict[str, Case] = {}
    for sid in scenarios:
        ex = examples.load(sid)
        for name in examples.FIXTURE_NAMES:
            request, attestation = examples.refresh(ex.fixtures[name], rng, now)
            case = Case(sid, name, request, attestation, name.upper(), ())
            cases[await bus.send_case(case)] = case
    await bus.wait_for(lambda: len(bus.verdicts) == len(cases), timeout_s=120, what="one verdict per request")
    assert bus.dead_letters == []
    got = Counter()
    for rid, case in cases.items():
        [verdict] = bus.verdicts[rid]
        assert verdict["scenario_id"] == case.scenario_id
        assert verdict["outcome"] == case.expected, (case.scenario_id, case.variant, verdict["findings"])
        assert sorted(f["code"] for f in verdict["findings"]) == _offline_codes(offline, case)
        got[(case.scenario_id, verdict["outcome"])] += 1
    assert all(got[(sid, o)] == 1 for sid in scenarios for o in ("ACCEPT", "REVIEW", "REJECT"))
