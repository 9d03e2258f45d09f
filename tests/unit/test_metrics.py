"""Unit tests of crossbound.metrics: every method, against a fresh registry per test."""

from __future__ import annotations

import math

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from crossbound.metrics import LATENCY_BUCKETS, Metrics


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Metrics:
    return Metrics(registry)


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def _verdicts(registry: CollectorRegistry, side: str, scenario: str, outcome: str) -> float | None:
    return _value(registry, "crossbound_verdicts_total", side=side, scenario=scenario, outcome=outcome)


def test_record_counts_by_side_and_kind(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.record("hk", "request")
    metrics.record("hk", "request")
    metrics.record("sz", "attestation")
    metrics.record("sz", "request")

    assert _value(registry, "crossbound_records_total", side="hk", kind="request") == 2
    assert _value(registry, "crossbound_records_total", side="sz", kind="attestation") == 1
    assert _value(registry, "crossbound_records_total", side="sz", kind="request") == 1
    assert _value(registry, "crossbound_records_total", side="hk", kind="attestation") is None


def test_request_counts_by_side_and_scenario(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.request("sz", "trade_finance")
    metrics.request("sz", "trade_finance")
    metrics.request("hk", "payments")

    assert _value(registry, "crossbound_requests_total", side="sz", scenario="trade_finance") == 2
    assert _value(registry, "crossbound_requests_total", side="hk", scenario="payments") == 1


def test_verdict_counts_outcome_and_observes_latency(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.verdict("hk", "payments", "ACCEPT", 0.03)
    metrics.verdict("hk", "payments", "REJECT", 42.0)
    metrics.verdict("hk", "payments", "REJECT", None)

    assert _verdicts(registry, "hk", "payments", "ACCEPT") == 1
    assert _verdicts(registry, "hk", "payments", "REJECT") == 2
    labels = {"side": "hk", "scenario": "payments"}
    assert registry.get_sample_value("crossbound_verdict_latency_seconds_count", labels) == 2
    assert registry.get_sample_value("crossbound_verdict_latency_seconds_sum", labels) == pytest.approx(42.03)


def test_latency_in_seconds_lands_in_the_right_bucket(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.verdict("sz", "payments", "REVIEW", 0.03)  # between 0.025 and 0.05
    metrics.verdict("sz", "payments", "REVIEW", 45.0)  # between 30 and 60

    def bucket(le: str) -> float | None:
        return registry.get_sample_value(
            "crossbound_verdict_latency_seconds_bucket", {"side": "sz", "scenario": "payments", "le": le}
        )

    assert bucket("0.025") == 0
    assert bucket("0.05") == 1
    assert bucket("30.0") == 1
    assert bucket("60.0") == 2
    assert bucket("+Inf") == 2
    bounds = [
        float(s.labels["le"])
        for metric in registry.collect()
        if metric.name == "crossbound_verdict_latency_seconds"
        for s in metric.samples
        if s.name.endswith("_bucket")
    ]
    assert bounds == [*LATENCY_BUCKETS, math.inf]


def test_negative_latency_counts_as_zero_and_nan_is_not_observed(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    metrics.verdict("hk", "payments", "ACCEPT", -0.2)  # clocks on the two sides disagree
    metrics.verdict("hk", "payments", "ACCEPT", math.nan)

    labels = {"side": "hk", "scenario": "payments"}
    assert registry.get_sample_value("crossbound_verdict_latency_seconds_count", labels) == 1
    assert registry.get_sample_value("crossbound_verdict_latency_seconds_sum", labels) == 0
    lowest = {**labels, "le": "0.005"}
    assert registry.get_sample_value("crossbound_verdict_latency_seconds_bucket", lowest) == 1
    assert _verdicts(registry, "hk", "payments", "ACCEPT") == 2


def test_finding_and_rule_error(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.finding("trade_finance", "lei_valid", "reject")
    metrics.finding("trade_finance", "lei_valid", "reject")
    metrics.finding("trade_finance", "amount_limit", "warn")
    metrics.rule_error("trade_finance", "lei_valid")

    name = "crossbound_findings_total"
    assert _value(registry, name, scenario="trade_finance", rule="lei_valid", severity="reject") == 2
    assert _value(registry, name, scenario="trade_finance", rule="amount_limit", severity="warn") == 1
    assert _value(registry, "crossbound_rule_errors_total", scenario="trade_finance", rule="lei_valid") == 1


def test_dead_letter_and_attestation_request(metrics: Metrics, registry: CollectorRegistry) -> None:
    for reason in ("undecodable", "unknown_schema", "too_large", "bad_key", "duplicate_request"):
        metrics.dead_letter("hk", reason)
    metrics.dead_letter("sz", "orphan_attestation")
    metrics.dead_letter("sz", "orphan_attestation")
    metrics.attestation_request("sz", "payments")

    assert _value(registry, "crossbound_dead_letters_total", side="hk", reason="too_large") == 1
    assert _value(registry, "crossbound_dead_letters_total", side="sz", reason="orphan_attestation") == 2
    assert _value(registry, "crossbound_attestation_requests_total", side="sz", scenario="payments") == 1


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("record", ("mo", "request")),
        ("record", ("hk", "verdict")),
        ("request", ("HK", "payments")),
        ("verdict", ("hk", "payments", "accept", 1.0)),
        ("verdict", ("hk", "request id 123", "ACCEPT", 1.0)),
        ("finding", ("payments", "lei_valid", "error")),
        ("rule_error", ("payments", "")),
        ("dead_letter", ("hk", "Payload too large: 2 MB")),
        ("attestation_request", ("both", "payments")),
        ("outgoing_blocked", ("dead_letter", "form")),
        ("outgoing_blocked", ("verdict", "phone +852 9123 4567")),
    ],
)
def test_unknown_label_values_are_refused(
    metrics: Metrics, registry: CollectorRegistry, call: str, args: tuple[object, ...]
) -> None:
    with pytest.raises(ValueError, match="must be"):
        getattr(metrics, call)(*args)
    assert b"{" not in b"".join(
        line for line in generate_latest(registry).splitlines() if not line.startswith(b"#")
    )


def test_set_pending_zeroes_a_vanished_scenario(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.set_pending({"payments": 7, "trade_finance": 3})
    assert _value(registry, "crossbound_pending_attestations", scenario="payments") == 7
    assert _value(registry, "crossbound_pending_attestations", scenario="trade_finance") == 3

    metrics.set_pending({"payments": 2})
    assert _value(registry, "crossbound_pending_attestations", scenario="payments") == 2
    assert _value(registry, "crossbound_pending_attestations", scenario="trade_finance") == 0

    metrics.set_pending({})
    assert _value(registry, "crossbound_pending_attestations", scenario="payments") == 0


def test_info_gauges_keep_one_series(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.set_build_info("0.1.0")
    metrics.set_build_info("0.2.0")
    metrics.set_ruleset_info("payments", "3", "ab12cd34")
    metrics.set_ruleset_info("payments", "4", "ef56ab78")
    metrics.set_ruleset_info("trade_finance", "1", "0123abcd")

    assert _value(registry, "crossbound_build_info", version="0.2.0") == 1
    assert _value(registry, "crossbound_build_info", version="0.1.0") is None
    info = "crossbound_ruleset_info"
    assert _value(registry, info, scenario="payments", version="4", digest="ef56ab78") == 1
    assert _value(registry, info, scenario="payments", version="3", digest="ab12cd34") is None
    assert _value(registry, info, scenario="trade_finance", version="1", digest="0123abcd") == 1


def test_two_registries_do_not_clash() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    a, b = Metrics(first), Metrics(second)
    a.verdict("hk", "payments", "ACCEPT", 0.1)
    a.verdict("hk", "payments", "ACCEPT", 0.1)
    b.verdict("hk", "payments", "ACCEPT", 0.1)

    labels = {"side": "hk", "scenario": "payments", "outcome": "ACCEPT"}
    assert first.get_sample_value("crossbound_verdicts_total", labels) == 2
    assert second.get_sample_value("crossbound_verdicts_total", labels) == 1


def test_the_same_registry_refuses_a_second_container(registry: CollectorRegistry) -> None:
    Metrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Metrics(registry)


def test_nothing_lands_on_the_global_registry(metrics: Metrics) -> None:
    metrics.record("hk", "request")
    metrics.set_build_info("0.1.0")
    assert b"crossbound_" not in generate_latest(REGISTRY)


def test_broker_reset_evidence_is_a_bounded_label() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    assert registry.get_sample_value("crossbound_broker_reset_found") == 0.0
    with pytest.raises(ValueError, match="what must be one of"):
        metrics.found_broker_reset(("hk.requests",))
