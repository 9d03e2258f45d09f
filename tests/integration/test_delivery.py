"""``--delivery exactly_once`` on Apache Kafka: a worker answers, and its verdicts are committed.

Read back with ``read_committed``: a verdict sent outside the transactions, or in a transaction that
is never committed (a sweeper verdict on an idle partition), would not be seen.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from crossbound.broker import Broker
from crossbound.codec import Codec
from crossbound.testing.processes import wait_until_ready
from crossbound.testing.traffic import Traffic
from crossbound.topics import SIDES, Topics
from support import Bus, Worker, create_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
async def eos_worker(broker: Broker, topics: Topics, tmp_path: Path) -> AsyncIterator[Worker]:
    await create_topics(broker, topics)
    w = Worker(broker, topics, tmp_path / "worker.log", extra=["--delivery", "exactly_once"]).start()
    try:
        await asyncio.to_thread(wait_until_ready, w.proc, w.metrics_port, 90.0)  # type: ignore[arg-type]
        yield w
    finally:
        w.stop()
    assert "Traceback" not in w.log(), w.log()[-3000:]


async def committed_verdicts(broker: Broker, topics: Topics, codec: Codec) -> dict[str, list[str]]:
    """Outcomes per request id on the verdict topics, read_committed, from the beginning."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    out: dict[str, list[str]] = {}
    try:
        tps = [TopicPartition(topics.verdicts(s), p) for s in SIDES for p in range(4)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        for _ in range(4):
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for msg in messages:
                    record = codec.decode(msg.value)[1]
                    out.setdefault(record["request_id"], []).append(record["outcome"])
    finally:
        await consumer.stop()
    return out


@pytest.mark.parametrize("broker", ["kafka"], indirect=True)
async def test_exactly_once_worker_answers_and_commits(
    eos_worker: Worker, bus: Bus, broker: Broker, topics: Topics, codec: Codec
) -> None:
    traffic = Traffic(seed=21)
    expected = {}
    for scenario in ("sb_corporate_credit_report", "payment_connect_northbound"):
        for variant in ("valid", "invalid"):
            case = traffic.case(scenario, variant)
            expected[await bus.send_case(case)] = case.expected
    late = traffic.case("nb_hk_resident_consumer_credit", "late")  # no answer: the sweeper's verdict
    expected[await bus.send_case(late)] = "REJECT"
    await bus.wait_for(lambda: len(bus.verdicts) == len(expected), timeout_s=90, what="the verdicts")
    end = asyncio.get_running_loop().time() + 30
    got: dict[str, list[str]] = {}
    while asyncio.get_running_loop().time() < end:
        got = await committed_verdicts(broker, topics, codec)
        if len(got) == len(expected):
            break
        await asyncio.sleep(1)
    assert got == {rid: [outcome] for rid, outcome in expected.items()}
    assert Counter(len(v) for v in bus.verdicts.values()) == Counter({1: len(expected)})
    assert "processing_guarantee" not in eos_worker.log()  # no complaint from Faust about the setting
