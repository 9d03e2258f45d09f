"""What a running worker reads of its broker to notice that the broker lost its state.

:class:`BrokerProbe` reads a :class:`BrokerState` (the cluster id, which topics exist, their log-end
offsets), compared over time by :mod:`crossbound.runtime.resets`. It reads the log ends through
``AIOKafkaConsumer.end_offsets``, which the Tansu workarounds correct (Tansu's own ListOffsets(LATEST)
answer is below the real end).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Self

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.broker.session import request_timeout_ms, started_admin
from crossbound.errors import BrokerError

__all__ = ["BrokerProbe", "BrokerState"]


@dataclass(frozen=True, slots=True)
class BrokerState:
    """What one :meth:`BrokerProbe.state` call saw: the cluster id (``None`` if the broker sends none),
    which of the asked topics exist, and the log-end offset of each of their partitions."""

    cluster_id: str | None
    topics: frozenset[str]
    ends: Mapping[tuple[str, int], int] = field(default_factory=dict)


class BrokerProbe:
    """A long-lived admin client and consumer (no group) that read a :class:`BrokerState` on demand.

    Two Metadata requests (cluster, then all topics: a per-topic one could auto-create a missing
    topic) and one ListOffsets per call; on Tansu, one more short-lived consumer for the corrected
    ends. Use as ``async with BrokerProbe(bootstrap) as probe``.
    """

    def __init__(
        self, bootstrap: str, *, timeout_s: float = 10.0, security: ClientSecurity = PLAINTEXT
    ) -> None:
        self._bootstrap = bootstrap
        self._security = security
        self._timeout_s = timeout_s
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Self:
        try:
            self._admin = await started_admin(self._bootstrap, self._timeout_s, self._security)
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                client_id="crossbound-watch",
                group_id=None,
                enable_auto_commit=False,
                request_timeout_ms=request_timeout_ms(self._timeout_s),
                **self._security.aiokafka_kwargs(),
            )
            await self._consumer.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close both clients; safe to call twice."""
        admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
        if consumer is not None:
            await consumer.stop()
        if admin is not None:
            await admin.close()

    async def state(self, topics: Iterable[str]) -> BrokerState:
        """The broker's state for ``topics``; raises ``KafkaError``/``OSError``/``TimeoutError`` when the
        broker cannot say (down, restarting, electing leaders): no state is not a reset."""
        if self._admin is None or self._consumer is None:
            raise BrokerError("the broker probe is not started")
        wanted = set(topics)
        async with asyncio.timeout(self._timeout_s):
            cluster = await self._admin.describe_cluster()
            described = await self._admin.describe_topics()
            present = {
                t["topic"]: [int(p["partition"]) for p in t["partitions"]]
                for t in described
                if t["topic"] in wanted and t.get("error_code", 0) == 0
            }
            tps = [TopicPartition(name, p) for name, parts in present.items() for p in parts]
            ends = await self._consumer.end_offsets(tps) if tps else {}
        cluster_id = cluster.get("cluster_id")
        return BrokerState(
            None if cluster_id is None else str(cluster_id),
            frozenset(present),
            {(tp.topic, tp.partition): int(end) for tp, end in ends.items()},
        )
