"""On Apache Kafka: an output over its topic's max.message.bytes is dead-lettered, and the worker goes on.

The verdicts topic is created with a small ``max.message.bytes``, between the size of an ``ACCEPT``
verdict without findings and a ``REVIEW`` verdict with one (both measured on the Harness first). The
worker reads the topic's limit at start-up: the review request's verdict (made by its last stateful
hop) becomes the request's ``output_too_large`` dead letter, while the next, valid request is still
answered. Before the budget, the broker refused the verdict
after the worker had moved on, and nothing said so.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from crossbound.broker import Broker, ensure_topics
from crossbound.broker.topicspec import TopicSpec, topic_specs
from crossbound.codec import Codec
from crossbound.rules import Catalogue
from crossbound.testing import Harness
from crossbound.testing.traffic import Case, Traffic
from crossbound.topics import Topics
from support import Bus, Worker, broker_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PCN = "payment_connect_northbound"  # HK -> SZ: verdicts on hk.verdicts
BATCH_OVERHEAD = 97  # a batch of one record as a broker counts it, at most (crossbound.pipeline.budget)


def _verdict_size(codec: Codec, catalogue: Catalogue, case: Case, now: float) -> int:
    h = Harness(codec, catalogue, now=now)
    assert case.request is not None
    assert case.attestation is not None
    h.send_request(case.request)
    h.send_attestation(case.attestation)
    [verdict] = [p for p in h.published if p.topic.endswith(".verdicts")]
    assert verdict.key is not None
    assert not verdict.headers
    return BATCH_OVERHEAD + len(verdict.key) + len(verdict.value)


@pytest.mark.parametrize("broker", ["kafka"], indirect=True)
async def test_a_verdict_over_its_topics_limit_is_dead_lettered_and_the_next_request_answered(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    tag = os.urandom(4).hex()
    topics = Topics(prefix=f"o{tag}.", app_id=f"cbo{tag}")
    now = time.time()
    traffic = Traffic(seed=11, now=now)
    big, small = traffic.case(PCN, "review"), traffic.case(PCN, "valid")
    big_size = _verdict_size(codec, catalogue, big, now)
    small_size = _verdict_size(codec, catalogue, small, now)
    assert small_size + 20 < big_size
    limit = (small_size + big_size) // 2
    specs = topic_specs(topics, broker_settings(broker).topic_settings(), 4)
    verdicts = specs[topics.verdicts("hk")]
    specs[topics.verdicts("hk")] = TopicSpec(
        verdicts.partitions,
        verdicts.replication_factor,
        {**verdicts.configs, "max.message.bytes": str(limit)},
    )
    await ensure_topics(broker.bootstrap, specs)
    worker = Worker(broker, topics, tmp_path / "worker.log").start()
    try:
        await asyncio.to_thread(worker.wait_ready, 60.0)
        async with Bus(broker.bootstrap, topics, codec, catalogue) as bus:
            refused = await bus.send_case(big)
            await bus.wait_for(
                lambda: any(d[1]["request_id"] == refused for d in bus.dead_letters),
                what="the dead letter of the oversized verdict",
            )
            answered = await bus.send_case(small)
            await bus.wait_for(lambda: answered in bus.verdicts, what="the next request's verdict")
        assert worker.proc is not None
        assert worker.proc.poll() is None
        metrics = worker.metrics()
    finally:
        worker.stop()
    assert [v["outcome"] for v in bus.verdicts[answered]] == ["ACCEPT"]
    assert refused not in bus.verdicts
    # the verdict is made by the request's last stateful hop: dead-lettered on the requester's side with
    # the request's coordinates (nothing is left parked, so no timeout verdict follows)
    [(_, dead, headers)] = bus.dead_letters
    assert (dead["source_topic"], dead["reason"], dead["request_id"]) == (
        topics.requests("hk"),
        "output_too_large",
        refused,
    )
    assert f"{limit}-byte limit of topic '{topics.verdicts('hk')}'" in dead["detail"]
    assert ("crossbound.reason", b"output_too_large") in headers
    assert 'crossbound_outputs_failed_total{reason="too_large",record="verdict"} 1.0' in metrics
    assert "Traceback" not in worker.log(), worker.log()[-3000:]
