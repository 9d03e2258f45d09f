"""The two transports the contract tests run on: the broker-free Harness, and a real worker on a broker.

A contract test talks to the pipeline only through this interface, so one body states a behaviour
for both (FastStream's ``BrokerConsumeTestcase`` over ``TestKafkaBroker`` and a real Kafka)::

    rid = await transport.send_case(request, attestation)  # the data holder answers when asked
    [verdict] = await transport.verdicts("hk", 1)
    await transport.advance(3)                              # memory: the clock; broker: real time

Records are published the way a Kafka client publishes them: keyed by request id, on the partition
the default (murmur2) partitioner picks, unless a test names one. What comes out is :class:`Seen`.
On the broker the worker is shared by the tests of one engine, so each transport reports only the
records of the requests and keys it sent itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import murmur2

from crossbound.codec import Codec
from crossbound.rules import Catalogue
from crossbound.testing import Harness, Published
from crossbound.testing.encoding import encode_attestation, encode_request
from crossbound.topics import SIDES, Topics

PARTITIONS = 4  # the integration Worker's
TIMEOUT_S = 2.0  # the integration Worker's attestation timeout: short, since the broker waits for real
WAIT_S = 30.0  # how long the broker transport waits for what a test expects


def kafka_partition(key: bytes, partitions: int = PARTITIONS) -> int:
    """The partition a Kafka client's default partitioner picks for ``key`` (aiokafka's own murmur2)."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class Seen:
    """A record the pipeline published: where, with what key and headers, and its decoded value."""

    topic: str
    partition: int
    key: bytes | None
    record: dict[str, Any]
    headers: tuple[tuple[str, bytes], ...] = ()


class Transport(Protocol):
    """What a contract test may do with the pipeline."""

    name: str
    topics: Topics

    @property
    def now(self) -> float:
        """The transport's present: build the test's cases for it (memory: the Harness clock)."""

    async def send(self, topic: str, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        """Publish raw bytes (``partition`` None: the default partitioner's pick for ``key``)."""

    async def send_case(
        self,
        request: Mapping[str, Any],
        attestation: Mapping[str, Any] | None = None,
        partition: int | None = None,
    ) -> str:
        """Publish a request (JSON form); its data holder answers with ``attestation`` when asked
        (on the partition the default partitioner picks, as any Kafka client would)."""

    async def send_attestation(self, attestation: Mapping[str, Any], partition: int | None = None) -> None:
        """Publish an attestation (JSON form) now, asked or not."""

    async def verdicts(self, side: str, n: int) -> list[Seen]:
        """The verdicts for ``side``'s requests, once there are at least ``n``."""

    async def dead_letters(self, side: str, n: int) -> list[Seen]:
        """The dead letters kept on ``side``, once there are at least ``n``."""

    async def attestation_requests(self, side: str, n: int) -> list[Seen]:
        """The attestation requests sent to ``side``, once there are at least ``n``."""

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass (memory: move the clock and run the sweeper; broker: wait)."""

    async def settle(self) -> None:
        """Give anything still on its way the time to arrive (memory: nothing is)."""


class MemoryTransport:
    """The pipeline in this process (:class:`crossbound.testing.Harness`): nothing is ever late."""

    name = "memory"

    def __init__(self, codec: Codec, catalogue: Catalogue) -> None:
        self.harness = Harness(
            codec, catalogue, now=time.time(), attestation_timeout_s=TIMEOUT_S, partitions=PARTITIONS
        )
        self.topics = self.harness.topics
        self._asked = {self.topics.attestation_requests(side) for side in SIDES}
        self._answers: dict[bytes, Mapping[str, Any]] = {}

    @property
    def now(self) -> float:
        return self.harness.now

    async def send(self, topic: str, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        if partition is None:
            partition = 0 if key is None else kafka_partition(key)
        out = self.harness.send(topic, key, value, partition)
        for p in out:  # the data holders answer what they are asked
            answer = self._answers.pop(p.key or b"", None) if p.topic in self._asked else None
            if answer is not None:
                await self.send_attestation(answer)

    async def send_case(
        self,
        request: Mapping[str, Any],
        attestation: Mapping[str, Any] | None = None,
        partition: int | None = None,
    ) -> str:
        topic, key, value = encode_request(request, self.harness.codec, self.harness.catalogue, self.topics)
        if attestation is not None:
            self._answers[key] = attestation
        await self.send(topic, key, value, partition)
        return key.decode()

    async def send_attestation(self, attestation: Mapping[str, Any], partition: int | None = None) -> None:
        h = self.harness
        await self.send(*encode_attestation(attestation, h.codec, h.catalogue, self.topics), partition)

    def _on(self, topic: str, n: int) -> list[Seen]:
        seen = [_seen(p) for p in self.harness.published if p.topic == topic]
        assert len(seen) >= n, f"{len(seen)} records on {topic}, expected {n}"
        return seen

    async def verdicts(self, side: str, n: int) -> list[Seen]:
        return self._on(self.topics.verdicts(side), n)

    async def dead_letters(self, side: str, n: int) -> list[Seen]:
        return self._on(self.topics.deadletter(side), n)

    async def attestation_requests(self, side: str, n: int) -> list[Seen]:
        return self._on(self.topics.attestation_requests(side), n)

    async def advance(self, seconds: float) -> None:
        self.harness.advance(seconds)

    async def settle(self) -> None:
        return None


def _seen(p: Published) -> Seen:
    # a record the pipeline left to the producer's partitioner lands where murmur2 puts its key
    partition = p.partition if p.partition is not None else kafka_partition(p.key or b"")
    return Seen(p.topic, partition, p.key, p.record, p.headers)


@dataclass
class BrokerTransport:
    """A shared real worker on a real broker, driven and read by Kafka clients.

    Use with ``async with``; reads the worker's output topics from the start and keeps what belongs
    to the requests and keys this transport sent.
    """

    name: str
    bootstrap: str
    topics: Topics
    codec: Codec
    catalogue: Catalogue
    _answers: dict[bytes, Mapping[str, Any]] = field(default_factory=dict)
    _keys: set[bytes] = field(default_factory=set)
    _out: dict[str, list[Seen]] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=2, acks="all")
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()

    @property
    def now(self) -> float:
        return time.time()

    async def __aenter__(self) -> BrokerTransport:
        await self._producer.start()
        self._tasks.append(asyncio.create_task(self._collect()))
        await asyncio.wait_for(self._ready.wait(), WAIT_S)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        await self._producer.stop()

    async def _collect(self) -> None:
        topics = [f(s) for s in SIDES for f in (self.topics.verdicts, self.topics.deadletter)]
        asked = [self.topics.attestation_requests(s) for s in SIDES]
        consumer = AIOKafkaConsumer(
            *topics, *asked, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        self._ready.set()
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                for messages in batch.values():
                    for msg in messages:
                        await self._on_message(msg, msg.topic in asked)
        finally:
            await consumer.stop()

    async def _on_message(self, msg: Any, asked: bool) -> None:
        if msg.key not in self._keys:
            return  # another test's
        record = self.codec.decode(msg.value)[1]
        seen = Seen(msg.topic, msg.partition, msg.key, record, tuple(msg.headers))
        self._out.setdefault(msg.topic, []).append(seen)
        answer = self._answers.pop(msg.key, None) if asked else None
        if answer is not None:  # the data holder answers, as a Kafka client would publish it
            await self.send_attestation(answer)

    async def send(self, topic: str, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        if key is not None:
            self._keys.add(key)
        await self._producer.send(topic, value=value, key=key, partition=partition)

    async def send_case(
        self,
        request: Mapping[str, Any],
        attestation: Mapping[str, Any] | None = None,
        partition: int | None = None,
    ) -> str:
        topic, key, value = encode_request(request, self.codec, self.catalogue, self.topics)
        if attestation is not None:
            self._answers[key] = attestation
        await self.send(topic, key, value, partition)
        return key.decode()

    async def send_attestation(self, attestation: Mapping[str, Any], partition: int | None = None) -> None:
        await self.send(*encode_attestation(attestation, self.codec, self.catalogue, self.topics), partition)

    async def _on(self, topic: str, n: int) -> list[Seen]:
        await self._producer.flush()
        await _until(lambda: len(self._out.get(topic, [])) >= n, f"{n} records on {topic}")
        return list(self._out[topic]) if n else list(self._out.get(topic, []))

    async def verdicts(self, side: str, n: int) -> list[Seen]:
        return await self._on(self.topics.verdicts(side), n)

    async def dead_letters(self, side: str, n: int) -> list[Seen]:
        return await self._on(self.topics.deadletter(side), n)

    async def attestation_requests(self, side: str, n: int) -> list[Seen]:
        return await self._on(self.topics.attestation_requests(side), n)

    async def advance(self, seconds: float) -> None:
        await self._producer.flush()
        await asyncio.sleep(seconds)

    async def settle(self) -> None:
        await self._producer.flush()
        await asyncio.sleep(1.0)


async def _until(predicate: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
