"""Institutions and data holders on both sides of a running pipeline, over a real broker.

``LiveBus`` publishes requests, answers attestation requests the way the data holders would (on the
partition the request came from), and collects every verdict and dead letter, decoded. The demo, the
benchmark and the integration tests use it; integrators can drive their own deployment with it::

    async with LiveBus(bootstrap, Topics(), codec, catalogue) as bus:
        request_id = await bus.send_case(Traffic().case("sb_corporate_credit_report", "valid"))
        await bus.wait_for(lambda: request_id in bus.verdicts)

Against a worker with a participant registry, give it a ``keyring``
(:meth:`crossbound.testing.participants.GeneratedRegistry.keyring`): each request and answer is then
signed as the institution it names, at the time it is sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.codec import Codec
from crossbound.domain import Side
from crossbound.rules import Catalogue
from crossbound.testing.encoding import Keyring, encode_attestation, encode_request
from crossbound.testing.traffic import Case
from crossbound.topics import SIDES, Topics

__all__ = ["LiveBus"]


class LiveBus:
    """Simulated institutions (requests out, verdicts in) and data holders (attestations) on a broker.

    The producer (requests and the holders' answers) writes with ``acks="all"`` by default: a send
    acknowledged by a leader that is killed before a follower copied it would otherwise be lost.
    ``enable_idempotence=True`` (needs ``acks="all"``) also keeps a retried batch from being written
    twice when a leader fails after writing it but before answering; it needs InitProducerId, so it
    is off by default (the embedded Tansu broker is not relied on for it) and on in
    :func:`crossbound.testing.chaos.run_broker_failure`.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        codec: Codec,
        catalogue: Catalogue,
        *,
        on_verdict: Callable[[], None] | None = None,
        acks: int | str = "all",
        enable_idempotence: bool = False,
        security: ClientSecurity = PLAINTEXT,
        keyring: Keyring | None = None,
        holders: bool = True,
    ) -> None:
        self.bootstrap = bootstrap
        self.holders = holders  # False: no data holders here (the demo's are crossbound.client Attesters)
        self.security = security
        self.keyring = keyring
        self.topics = topics
        self.codec = codec
        self.catalogue = catalogue
        self.on_verdict = on_verdict
        self.acks = acks
        self.enable_idempotence = enable_idempotence
        #: (time.monotonic() on arrival, request id) of every verdict, repeats included
        self.arrivals: list[tuple[float, str]] = []
        self.answers: dict[bytes, tuple[str, bytes]] = {}
        self.verdicts: dict[str, list[dict[str, Any]]] = {}
        self.dead_letters: list[tuple[bytes | None, dict[str, Any], list[tuple[str, bytes]]]] = []
        self.attestation_requests: list[dict[str, Any]] = []
        self.published = 0
        self._producer: AIOKafkaProducer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    async def __aenter__(self) -> LiveBus:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            linger_ms=2,
            max_batch_size=262_144,
            acks=self.acks,
            enable_idempotence=self.enable_idempotence,
            **self.security.aiokafka_kwargs(),
        )
        await self._producer.start()
        self._tasks = [asyncio.create_task(self._collect())]
        if self.holders:
            self._tasks.append(asyncio.create_task(self._holders()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        await self.producer.stop()

    @property
    def producer(self) -> AIOKafkaProducer:
        """The bus's producer (started by ``async with``)."""
        if self._producer is None:
            raise RuntimeError("use LiveBus with `async with`")
        return self._producer

    async def _consume(self, topics: list[str]) -> AsyncIterator[Any]:
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            **self.security.aiokafka_kwargs(),
        )
        await consumer.start()
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=100, max_records=5000)
                for messages in batch.values():
                    for msg in messages:
                        yield msg
        finally:
            await consumer.stop()

    async def _holders(self) -> None:
        async for msg in self._consume([self.topics.attestation_requests(s) for s in SIDES]):
            self.attestation_requests.append(self.codec.decode(msg.value)[1])
            answer = self.answers.get(msg.key)
            if answer is not None:
                await self.producer.send(
                    answer[0],
                    value=answer[1],
                    key=msg.key,
                    partition=msg.partition,
                    headers=self._sign(msg.key, answer[1]),
                )

    async def _collect(self) -> None:
        verdicts = [self.topics.verdicts(s) for s in SIDES]
        async for msg in self._consume(verdicts + [self.topics.deadletter(s) for s in SIDES]):
            record = self.codec.decode(msg.value)[1]
            if msg.topic in verdicts:
                self.verdicts.setdefault(record["request_id"], []).append(record)
                self.arrivals.append((time.monotonic(), record["request_id"]))
                if self.on_verdict is not None:
                    self.on_verdict()
            else:
                self.dead_letters.append((msg.key, record, list(msg.headers)))

    def encode_case(self, case: Case, created_ms: int | None = None) -> tuple[str, bytes, bytes]:
        """Topic, key and value of a case's request; registers its data holder's answer, if any.

        ``created_ms`` stamps the request as created now (for latency), with a one-hour lifetime.
        """
        if case.request is None:
            assert case.raw is not None
            side = Side(case.requester_side).topic
            return self.topics.requests(side), case.key or b"raw", case.raw
        request = dict(case.request)
        if created_ms is not None:
            request["created_at"] = created_ms
            request["expires_at"] = created_ms + 3_600_000
        topic, key, value = encode_request(request, self.codec, self.catalogue, self.topics)
        if case.attestation is not None:
            answer_topic, _, answer = encode_attestation(
                case.attestation, self.codec, self.catalogue, self.topics
            )
            self.answers[key] = (answer_topic, answer)
        return topic, key, value

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Publish one record (key-partitioned with Kafka's murmur2 partitioner, as the pipeline expects)."""
        await self.producer.send(topic, value=value, key=key, headers=self._sign(key, value))
        self.published += 1

    def _sign(self, key: bytes | None, value: bytes) -> list[tuple[str, bytes]] | None:
        """The keyring's signature of a record now (None: unsigned, no keyring or no signer)."""
        if self.keyring is None or key is None:
            return None
        return list(self.keyring.headers(self.codec, key, value, int(time.time() * 1000))) or None

    async def send_case(self, case: Case, *, answer: bool = True) -> str:
        """Publish a case's request (or raw bytes); returns its request id (or the raw record's key)."""
        topic, key, value = self.encode_case(case)
        if not answer:
            self.answers.pop(key, None)
        await self.send(topic, key, value)
        return key.decode()

    def answered(self) -> int:
        """Requests with a verdict, plus dead letters."""
        return len(self.verdicts) + len(self.dead_letters)

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 60.0, what: str = "") -> None:
        """Flush, then wait until ``predicate()`` holds; AssertionError with the counts on timeout."""
        await self.producer.flush()
        end = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > end:
                raise AssertionError(
                    f"timed out waiting for {what}: {len(self.verdicts)} verdicts, "
                    f"{len(self.dead_letters)} dead letters"
                )
            await asyncio.sleep(0.05)
