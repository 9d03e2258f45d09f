"""The embedded Tansu broker, topic administration and the end_offsets workaround, against a real broker."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import types
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

import crossbound
from crossbound.broker import (
    EmbeddedBroker,
    apply_tansu_workarounds,
    ensure_topics,
    remove_tansu_workarounds,
    tansu_workarounds_applied,
    unpatched_end_offsets,
    wait_for_broker,
)
from crossbound.broker.net import free_port
from crossbound.broker.tansu import metadata_probe
from crossbound.errors import BrokerError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    async with EmbeddedBroker(startup_timeout_s=10) as running:
        yield running


@pytest.fixture
def no_workarounds() -> Iterator[None]:
    """Start and end without the global end_offsets patch, whatever other tests did."""
    remove_tansu_workarounds()
    yield
    remove_tansu_workarounds()


async def partition_counts(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
    finally:
        await admin.close()


async def produce_batches(bootstrap: str, topic: str, batches: int, size: int, partition: int | None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        for b in range(batches):
            for i in range(size):
                value = f"{b}:{i}".encode()
                await producer.send(topic, value, key=value, partition=partition)
            await producer.flush()
    finally:
        await producer.stop()


async def test_broker_runs_in_its_own_process_group(broker: EmbeddedBroker) -> None:
    assert broker.running
    assert broker.bootstrap == f"127.0.0.1:{broker.port}"
    assert broker.url == f"kafka://127.0.0.1:{broker.port}"
    assert os.getpgid(broker.pid) == broker.pid
    assert broker.log_path is not None
    assert broker.log_path.exists()
    assert any(port == broker.port for _, _, port in metadata_probe("127.0.0.1", broker.port))
    await wait_for_broker(broker.bootstrap, timeout_s=5)


async def test_ensure_topics_creates_exact_partition_counts(broker: EmbeddedBroker) -> None:
    events, verdicts = unique("events"), unique("verdicts")

    await ensure_topics(broker.bootstrap, {events: 3, verdicts: 1}, timeout_s=5)
    await ensure_topics(broker.bootstrap, {events: 3}, timeout_s=5)  # "already exists" is fine

    counts = await partition_counts(broker.bootstrap)
    assert counts[events] == 3
    assert counts[verdicts] == 1
    with pytest.raises(BrokerError, match=events) as info:
        await ensure_topics(broker.bootstrap, {events: 5}, timeout_s=5)
    assert "has 3, wanted 5" in str(info.value)


async def test_produce_and_consume_50_records(broker: EmbeddedBroker) -> None:
    topic = unique("roundtrip")
    await ensure_topics(broker.bootstrap, {topic: 3}, timeout_s=5)

    await produce_batches(broker.bootstrap, topic, batches=5, size=10, partition=None)

    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        await consumer.seek_to_beginning()
        seen: list[bytes] = []
        async with asyncio.timeout(10):
            while len(seen) < 50:
                batch = await consumer.getmany(timeout_ms=200)
                seen.extend(record.value for records in batch.values() for record in records)
    finally:
        await consumer.stop()
    expected = {f"{b}:{i}".encode() for b in range(5) for i in range(10)}
    assert sorted(seen) == sorted(expected)


async def test_end_offsets_bug_and_workaround(broker: EmbeddedBroker, no_workarounds: None) -> None:
    topic = unique("endoffsets")
    await ensure_topics(broker.bootstrap, {topic: 2}, timeout_s=5)
    await produce_batches(broker.bootstrap, topic, batches=3, size=10, partition=0)
    full, empty = TopicPartition(topic, 0), TopicPartition(topic, 1)

    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        # Without the workaround: Tansu reports base offset of the last batch + 1 (20 + 1).
        assert not tansu_workarounds_applied()
        assert await consumer.end_offsets([full, empty]) == {full: 21, empty: 0}

        apply_tansu_workarounds()
        apply_tansu_workarounds()  # idempotent
        assert tansu_workarounds_applied()
        assert await consumer.end_offsets([full, empty]) == {full: 30, empty: 0}
        assert await unpatched_end_offsets(consumer, [full]) == {full: 21}

        # The exact call Faust's table recovery makes for its changelog highwaters.
        from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

        # (a stand-in for the thread: only the two attributes _highwaters reads)
        thread = types.SimpleNamespace(
            _ensure_consumer=lambda: consumer, consumer=types.SimpleNamespace(in_transaction=False)
        )
        highwaters = await AIOKafkaConsumerThread._highwaters(cast(AIOKafkaConsumerThread, thread), [full])
        assert highwaters == {full: 30}

        remove_tansu_workarounds()
        assert await consumer.end_offsets([full]) == {full: 21}
    finally:
        await consumer.stop()


async def test_stop_frees_the_port_and_is_idempotent() -> None:
    broker = EmbeddedBroker()
    await broker.start_async()
    port, log_path = broker.port, broker.log_path
    assert log_path is not None

    await broker.stop_async()
    broker.stop()

    assert not broker.running
    with pytest.raises(BrokerError):
        _ = broker.port
    assert not log_path.exists()  # the default temp log goes away with the broker
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if tansu still held it


def test_sync_context_manager_with_explicit_port_and_log(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "logs" / "tansu.log"

    with EmbeddedBroker(port=port, log_path=log_path) as broker:
        assert broker.port == port
        assert any(p == port for _, _, p in metadata_probe("127.0.0.1", port))
    assert not broker.running
    assert "listening on" in log_path.read_text()  # a caller-chosen log is kept


def test_explicit_port_in_use_is_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(BrokerError, match="in use"):
            EmbeddedBroker(port=port).start()


async def test_wait_for_broker_times_out_on_a_closed_port() -> None:
    port = free_port()
    with pytest.raises(BrokerError, match="no Kafka broker answered"):
        await wait_for_broker(f"127.0.0.1:{port}", timeout_s=0.5)


def test_run_broker_foreground_until_sigterm() -> None:
    src = str(Path(crossbound.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    code = "from crossbound.broker import run_broker; raise SystemExit(run_broker(None, None))"
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().decode()
            assert line.startswith("crossbound: Tansu broker on kafka://127.0.0.1:"), line
            assert line.rstrip().endswith("; Ctrl-C to stop")
            port = int(line.split("kafka://127.0.0.1:")[1].split(" ")[0])
            assert any(p == port for _, _, p in metadata_probe("127.0.0.1", port))
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err.decode()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
