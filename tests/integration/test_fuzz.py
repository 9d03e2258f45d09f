"""Thousands of malformed records through a real broker and worker: each has exactly one outcome (issue 9).

The records come from :class:`crossbound.testing.fuzz.Fuzz` (the Harness half of this test is
tests/unit/testing/test_fuzz_harness.py) and go out through confluent-kafka, a client independent of
the worker's, which sets any key, header and timestamp; valid requests are interleaved, and the answers
a data holder gives (``in_reply``) go out through the LiveBus when their request asks for them. Then
every record is accounted for on the verdict and dead-letter topics, none missing and none twice,
and the worker, still running, answers a fresh request.

On Apache Kafka the input topics accept any timestamp (by default Kafka refuses one over an hour ahead).
A record the broker still refuses (Kafka: a timestamp of -2**63) never reaches the worker: it is left
out of the accounting, and must be one with a hostile timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from crossbound.broker import Broker
from crossbound.codec import Codec
from crossbound.rules import Catalogue
from crossbound.testing.fuzz import Fuzz, Fuzzed, Sent, account
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics
from support import Bus, Worker, create_topics, unique_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

LIMIT = 4096  # the worker's input limit here: records at its edges stay small
MALFORMED, VALID = 2500, 250


def _interleave(malformed: list[Fuzzed], valid: list[Fuzzed]) -> list[Fuzzed]:
    """The valid records spread evenly through the malformed ones, each list in its order."""
    step = max(1, len(malformed) // max(1, len(valid)))
    out: list[Fuzzed] = []
    for i in range(0, max(len(malformed), len(valid) * step), step):
        out += malformed[i : i + step] + valid[i // step : i // step + 1]
    return out


def _allow_any_timestamp(bootstrap: str, topics: list[str]) -> None:
    """Apache Kafka refuses timestamps over an hour ahead by default; a deployment may allow them."""
    entries = [
        ConfigEntry(name, str(2**63 - 1), incremental_operation=AlterConfigOpType.SET)
        for name in ("message.timestamp.after.max.ms", "message.timestamp.before.max.ms")
    ]
    resources = [ConfigResource(ResourceType.TOPIC, t, incremental_configs=entries) for t in topics]
    admin = AdminClient({"bootstrap.servers": bootstrap})  # held: its futures end with it
    for future in admin.incremental_alter_configs(resources).values():
        future.result(30)


def _produce(bootstrap: str, records: list[Fuzzed]) -> tuple[list[Sent], list[tuple[Fuzzed, str]]]:
    """Publish with confluent-kafka at each record's own partition, key, headers and timestamp."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all", "message.max.bytes": 2_000_000}
    )
    sent: list[Sent] = []
    refused: list[tuple[Fuzzed, str]] = []

    def delivered(rec: Fuzzed) -> Any:
        def report(err: KafkaError | None, msg: Message) -> None:
            if err is None:
                sent.append(Sent(rec, msg.partition(), msg.offset()))
            else:
                refused.append((rec, err.name()))

        return report

    for rec in records:
        kwargs: dict[str, Any] = {"partition": rec.partition, "headers": list(rec.headers)}
        if rec.timestamp_ms is not None:
            # in a batch of its own: the broker refuses a whole batch for one bad timestamp
            producer.flush(60)
            kwargs["timestamp"] = rec.timestamp_ms
        while True:
            try:
                producer.produce(rec.topic, rec.value, rec.key, on_delivery=delivered(rec), **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
            except (OverflowError, ValueError) as exc:  # a timestamp the client cannot even carry
                refused.append((rec, type(exc).__name__))
                break
        if rec.timestamp_ms is not None:
            producer.flush(60)
        producer.poll(0)
    producer.flush(60)
    return sent, refused


async def test_thousands_of_malformed_records_each_get_exactly_one_outcome(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    topics: Topics = unique_topics("f")
    await create_topics(broker, topics)
    if broker.engine == "kafka":
        await asyncio.to_thread(_allow_any_timestamp, broker.bootstrap, topics.inputs())
    env = {"CROSSBOUND_PIPELINE__MAX_RECORD_BYTES": str(LIMIT)}
    worker = Worker(broker, topics, tmp_path / "worker.log", timeout_s=20, env=env).start()
    small = Codec(codec.registry, max_record_bytes=LIMIT)
    fuzz = Fuzz(small, catalogue, topics, seed=11, now=time.time(), partitions=worker.partitions)
    records = _interleave(fuzz.records(MALFORMED), fuzz.valid(VALID))
    replies = [r for r in records if r.in_reply]
    try:
        await asyncio.to_thread(worker.wait_ready, 60.0)
        async with Bus(broker.bootstrap, topics, codec, catalogue) as bus:
            for rec in replies:
                assert rec.key is not None
                assert rec.value is not None
                bus.answers[rec.key] = (rec.topic, rec.value)
            produced = [r for r in records if not r.in_reply]
            sent, refused = await asyncio.to_thread(_produce, broker.bootstrap, produced)
            assert len(sent) + len(refused) == len(produced)
            refusals = {(rec.kind, rec.timestamp_ms, why) for rec, why in refused}
            assert {kind for kind, _, _ in refusals} <= {"kafka_timestamp"}, refusals

            def outcome() -> tuple[Counter[str], list[str]]:
                asked = {a["request_id"] for a in bus.attestation_requests}
                answered = [Sent(r, -1, None) for r in replies if r.request_id in asked]
                verdicts = [v for vs in bus.verdicts.values() for v in vs]
                return account(sent + answered, verdicts, [d for _, d, _ in bus.dead_letters])

            def settled() -> bool:
                return not any(p.endswith("no outcome") for p in outcome()[1])

            with contextlib.suppress(AssertionError):  # if not, the problems below say what is missing
                await bus.wait_for(settled, timeout_s=120, what="an outcome for every record")
            await asyncio.sleep(3)  # anything sent twice would arrive now
            _, problems = outcome()
            assert problems == [], (len(problems), problems[:20], refusals)
            fresh = Traffic(seed=12).case("sb_corporate_credit_report", "valid")
            rid = await bus.send_case(fresh)
            await bus.wait_for(lambda: rid in bus.verdicts, timeout_s=60, what="a fresh request's verdict")
            assert bus.verdicts[rid][0]["outcome"] == "ACCEPT"
        assert worker.proc is not None
        assert worker.proc.poll() is None
    finally:
        worker.stop()
    assert "Traceback" not in worker.log(), worker.log()[-3000:]
