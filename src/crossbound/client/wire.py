"""The client's one seam to Kafka: send a record, read one topic from the moment the client started.

:class:`Wire` is what :class:`~crossbound.client.Institution` and :class:`~crossbound.client.Attester`
need of a broker; :class:`KafkaWire` is it over aiokafka (TLS and SASL from
:class:`~crossbound.broker.security.ClientSecurity`); the unit tests pass an in-memory one.

Reading starts at the end of each partition *as the client starts* (the offsets are fixed before
``start`` returns), so a verdict written after ``async with`` began is never skipped, and the history
of the topic is never read. It reads with no consumer group: nothing is committed, and an ACL on the
topic is all it needs. Sends wait for the broker's acknowledgement (``acks="all"``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.errors import BrokerError

__all__ = ["Headers", "KafkaWire", "Received", "Wire"]

Headers = Sequence[tuple[str, bytes]]


class Received(Protocol):
    """A consumed record (aiokafka's ``ConsumerRecord`` is one)."""

    @property
    def partition(self) -> int: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Headers: ...


class Wire(Protocol):
    """A producer and a reader of one topic."""

    async def start(self, read: str) -> None:
        """Connect; read ``read`` from its current end on."""

    async def stop(self) -> None:
        """Disconnect."""

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        """Write one record, key-partitioned; return once the broker acknowledged it."""

    async def poll(self, timeout_ms: int) -> list[Received]:
        """What arrived, waiting up to ``timeout_ms`` for something."""


class KafkaWire:
    """:class:`Wire` over aiokafka."""

    def __init__(self, bootstrap: str, security: ClientSecurity = PLAINTEXT, assign_timeout_s: float = 30.0):
        self.bootstrap = bootstrap
        self.security = security
        self.assign_timeout_s = assign_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self, read: str) -> None:
        """Start the producer and a group-less consumer of every partition of ``read``, at its end."""
        kwargs = self.security.aiokafka_kwargs()
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=2, **kwargs)
        self._consumer = AIOKafkaConsumer(
            read,
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            **kwargs,
        )
        try:
            await self._producer.start()
            await self._consumer.start()
            await self._fix_positions(read)
        except BaseException:
            await self.stop()
            raise

    async def _fix_positions(self, topic: str) -> None:
        assert self._consumer is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.assign_timeout_s
        while not self._consumer.assignment():
            if loop.time() > deadline:
                raise BrokerError(f"{topic}: no partitions assigned within {self.assign_timeout_s:g} s")
            await asyncio.sleep(0.05)
        for tp in sorted(self._consumer.assignment(), key=lambda p: p.partition):
            await self._consumer.position(TopicPartition(tp.topic, tp.partition))  # resolves "latest" now

    async def stop(self) -> None:
        """Stop both clients (each at most once)."""
        consumer, producer, self._consumer, self._producer = self._consumer, self._producer, None, None
        if consumer is not None:
            await consumer.stop()
        if producer is not None:
            await producer.stop()

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        """Send and wait for the acknowledgement."""
        if self._producer is None:
            raise RuntimeError("the client is not started: use it with `async with`")
        await self._producer.send_and_wait(topic, value=value, key=key, headers=list(headers))

    async def poll(self, timeout_ms: int) -> list[Received]:
        """One fetch across the assigned partitions."""
        if self._consumer is None:
            raise RuntimeError("the client is not started: use it with `async with`")
        batch = await self._consumer.getmany(timeout_ms=timeout_ms)
        return [msg for messages in batch.values() for msg in messages]
