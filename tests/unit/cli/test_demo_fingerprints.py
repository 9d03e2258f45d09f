"""The demo's fingerprint step: the worker's count of registry records read off /metrics, and the summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crossbound.cli.demo_run import DemoResult, render, stored_fingerprints, summarise
from crossbound.testing.traffic import Traffic, fingerprint_scenarios

METRICS = """\
# TYPE crossbound_fingerprints_total counter
crossbound_fingerprints_total{result="stored",side="sz"} 7.0
crossbound_fingerprints_total{result="repeat",side="sz"} 3.0
crossbound_fingerprints_total{result="stored",side="hk"} 2.0
crossbound_verdicts_total{outcome="ACCEPT",scenario="x",side="hk"} 1.0
"""


def test_stored_fingerprints_sums_both_sides_and_ignores_repeats() -> None:
    assert stored_fingerprints(METRICS) == 9
    assert stored_fingerprints(None) == 0  # no /metrics page: nothing known to be stored


def test_the_summary_gives_the_latency_of_requests_answered_by_lookup() -> None:
    traffic = Traffic(seed=1, now=1_795_510_800.0)
    looked_up = traffic.fingerprint_case(fingerprint_scenarios()[0], "valid")
    attested = next(iter(traffic.mix(1, scenarios=["sb_corporate_credit_report"], weights={"valid": 1})))
    created = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    result = DemoResult(published=2, started=0.0, finished=1.0)
    for case, ms in ((looked_up, 12), (attested, 900)):
        assert case.request_id is not None
        result.cases[case.request_id.encode()] = case
        result.verdicts[case.request_id] = {
            "outcome": "ACCEPT",
            "findings": [],
            "request_created_at": created,
            "decided_at": created + timedelta(milliseconds=ms),
        }
    summary = summarise(result, METRICS)
    assert summary["latency_ms_by_fingerprint_lookup"] == {"p50": 12.0, "p99": 12.0}
    assert summary["fingerprints_stored"] == 9
    assert any("answered by fingerprint lookup p50 12.0 ms" in line for line in render(summary))


def test_a_request_with_a_verdict_and_a_late_answers_dead_letter_counts_once() -> None:
    case = next(iter(Traffic(seed=1).mix(1, scenarios=["sb_corporate_credit_report"], weights={"late": 1})))
    assert case.request_id is not None
    created = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    result = DemoResult(published=1, started=0.0, finished=1.0)
    result.cases[case.request_id.encode()] = case
    result.verdicts[case.request_id] = {
        "outcome": "REVIEW",
        "findings": [{"code": "ATTESTATION_TIMEOUT"}],
        "request_created_at": created,
        "decided_at": created + timedelta(seconds=3),
    }
    result.dead_letters[case.request_id] = {"reason": "late_attestation"}
    assert result.answered == 1
    assert summarise(result, None)["unanswered"] == 0
