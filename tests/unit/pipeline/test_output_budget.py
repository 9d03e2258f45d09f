"""The size budget: an output that would not fit its topic is its input's dead letter, and nothing else.

A request just under the input limit is a valid input; what the pipeline makes of it (the attestation
request, the ``pending`` entry) can be larger than a topic takes. The budget is checked before
anything is sent or written, so the input ends in one ``output_too_large`` dead letter, with nothing
parked that would answer it again at its deadline.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from crossbound.codec import Codec, SchemaRegistry
from crossbound.pipeline.budget import BATCH_OVERHEAD, OutputLimits, record_size
from crossbound.rules import Catalogue
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics

SB = "sb_corporate_credit_report"  # HK -> SZ
PCN = "payment_connect_northbound"
BIG = 10_000_000


@pytest.fixture(scope="module")
def shipped() -> tuple[SchemaRegistry, Catalogue]:
    proto = Harness.from_dirs()
    return proto.codec.registry, proto.catalogue


def _late(now: float) -> dict[str, Any]:
    request = Traffic(seed=3, now=now).case(SB, "late").request
    assert request is not None
    return request


def _harness(
    shipped: tuple[SchemaRegistry, Catalogue], limits: dict[str, int], size: int | None = None
) -> Harness:
    registry, catalogue = shipped
    now = examples.FIXTURE_TIME.timestamp()
    return Harness(
        Codec(registry, max_record_bytes=size or 1_000_000),
        catalogue,
        now=now,
        limits=OutputLimits(BIG, limits),
        registry=CollectorRegistry(),
    )


def _failed(h: Harness, record: str) -> float:
    value = h.registry.get_sample_value(
        "crossbound_outputs_failed_total", {"record": record, "reason": "too_large"}
    )
    return value or 0.0


def test_an_attestation_request_over_its_topics_limit_is_the_requests_dead_letter(
    shipped: tuple[SchemaRegistry, Catalogue],
) -> None:
    topics = Topics()
    probe = _harness(shipped, {})
    request = _late(probe.now)
    size = len(probe.encode_request(request)[1])
    # the input just under its limit; its attestation request over a small limit of its own topic
    h = _harness(shipped, {topics.attestation_requests("sz"): 300}, size=size + 1)
    h.send_request(request)
    [dead] = h.dead_letters("hk")
    assert dead["reason"] == "output_too_large"
    assert dead["request_id"] == request["request_id"]
    assert "attestation_request record of" in dead["detail"]
    assert "300-byte limit of topic 'sz.attestation-requests'" in dead["detail"]
    assert h.attestation_requests("sz") == []
    assert h.verdicts("hk") == []
    assert h.pending == {}  # nothing parked: no timeout verdict follows
    assert h.advance(h.attestation_timeout_s + 1) == []
    assert _failed(h, "attestation_request") == 1


def test_a_pending_entry_over_its_changelog_limit_parks_nothing(
    shipped: tuple[SchemaRegistry, Catalogue],
) -> None:
    topics = Topics()
    probe = _harness(shipped, {})
    request = _late(probe.now)
    probe.send_request(request)
    [raw] = probe.pending.values()
    entry = record_size(request["request_id"].encode(), raw)
    h = _harness(shipped, {topics.changelog("pending"): entry - 1})
    h.send_request(request)
    [dead] = h.dead_letters("hk")
    assert dead["reason"] == "output_too_large"
    assert "pending record of" in dead["detail"]
    assert h.pending == {}
    assert h.attestation_requests("sz") == []
    assert _failed(h, "pending") == 1


def test_a_verdict_over_its_topics_limit_is_dead_lettered_and_not_remembered(
    shipped: tuple[SchemaRegistry, Catalogue],
) -> None:
    topics = Topics()
    reject = Traffic(seed=3, now=examples.FIXTURE_TIME.timestamp()).case(PCN, "invalid").request
    assert reject is not None  # rejected by its request rules: the verdict at once
    h = _harness(shipped, {topics.verdicts("hk"): BATCH_OVERHEAD + 40})  # no verdict fits
    h.send_request(reject)
    [dead] = h.dead_letters("hk")
    assert dead["reason"] == "output_too_large"
    assert "verdict record of" in dead["detail"]
    assert h.verdicts("hk") == []
    assert h.answered == {}
    assert _failed(h, "verdict") == 1
    counted = [
        sample
        for metric in h.registry.collect()
        if metric.name == "crossbound_verdicts"
        for sample in metric.samples
        if sample.name == "crossbound_verdicts_total"
    ]
    assert counted == []  # a verdict not sent is not counted


def test_a_dead_letter_keeps_less_of_the_record_to_fit_its_topic(
    shipped: tuple[SchemaRegistry, Catalogue],
) -> None:
    topics = Topics()
    h = _harness(shipped, {topics.deadletter("hk"): 400})
    h.send(topics.requests("hk"), b"k", b"\xc3\x01" + b"\x00" * 2000)  # unknown schema, 2 KB
    [out] = [p for p in h.published if p.topic == topics.deadletter("hk")]
    assert record_size(out.key, out.value, out.headers) <= 400
    assert out.record["reason"] == "unknown_schema"
    assert out.record["value"] == b""
    assert out.record["value_size"] == 2002
