"""The client's one seam to Kafka: send a record, read one topic from the moment the client started.

:class:`Wire` is what :class:`~crossbound.client.Institution` and :class:`~crossbound.client.Attester`
need of a broker; :class:`KafkaWire` is it over aiokafka (TLS and SASL from
:class:`~crossbound.broker.security.ClientSecurity`); the unit tests pass an in-memory one.

Reading starts at the end of each partition *as the client starts* (the offsets are fixed before
``start`` returns), so a verdict written after ``async with`` began is never skipped, and the history
of the topic is never read. By default it reads with no consumer group: nothing is committed, and an
ACL on the topic is all it needs. With ``group_id`` (under the registry's ACLs it must start with
``<prefix><key>.``) it reads in that group and commits what it handled, each fetch once the next is
asked for: a data holder that stops resumes where it stopped and answers what came meanwhile (a record
handled but not yet committed is handled again). The first start in a group commits the end, so it
starts there too. Sends wait for the broker's acknowledgement (``acks="all"``).
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
    """A producer and a reader of one topic (or of none: a client that only sends)."""

    async def start(self, read: str | None) -> None:
        """Connect; read ``read`` from its current end on (None: produce only)."""

    async def stop(self) -> None:
        """Disconnect."""

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        """Write one record, key-partitioned; return once the broker acknowledged it."""

    async def poll(self, timeout_ms: int) -> list[Received]:
        """What arrived, waiting up to ``timeout_ms`` for something."""


class KafkaWire:
    """:class:`Wire` over aiokafka."""

    def __init__(
        self,
        bootstrap: str,
        security: ClientSecurity = PLAINTEXT,
        *,
        group_id: str | None = None,
        assign_timeout_s: float = 30.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.group_id = group_id
        self.assign_timeout_s = assign_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._handled = False  # a fetch was returned and not committed yet (group_id only)

    async def start(self, read: str | None) -> None:
        """Start the producer and a consumer of every partition of ``read``: at its end, or (with
        ``group_id``) where the group stopped. With ``read`` None, the producer alone."""
        kwargs = self.security.aiokafka_kwargs()
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=2, **kwargs)
        if read is None:
            try:
                await self._producer.start()
            except BaseException:
                await self.stop()
                raise
            return
        self._consumer = AIOKafkaConsumer(
            read,
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            **kwargs,
        )
        try:
            await self._producer.start()
            await self._consumer.start()
            await self._fix_positions(read)
            if self.group_id is not None:
                await self._consumer.commit()  # the positions: the end on a group's first start
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
        if self._handled:
            await self._consumer.commit()  # the previous fetch: handled before this poll was asked for
            self._handled = False
        batch = await self._consumer.getmany(timeout_ms=timeout_ms)
        records = [msg for messages in batch.values() for msg in messages]
        self._handled = self.group_id is not None and bool(records)
        return records
