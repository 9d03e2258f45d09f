"""What an institution's two clients share: one wire, a reading task, signing out and checking in.

:class:`Endpoint` starts its :class:`~crossbound.client.wire.Wire` on the one topic the client reads
(an institution its verdicts, a data holder its attestation requests; a data source that only issues
fingerprints reads nothing), hands every record read to
:meth:`Endpoint.handle` from one background task (a fetch's records concurrently), signs what it
sends as the institution (:meth:`Endpoint.send`) and checks what it reads against the platform's
keys (:meth:`Endpoint.check`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import ClassVar, Self, TypedDict, Unpack

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.client.identity import Identity, Trust
from crossbound.client.metrics import ClientMetrics
from crossbound.client.wire import KafkaWire, Received, Wire
from crossbound.codec import Codec
from crossbound.codec.jsonform import Catalogue
from crossbound.signing import Binding, RecordKind, Refused
from crossbound.topics import Topics

__all__ = ["Endpoint", "Options"]

_POLL_MS = 100


class Options(TypedDict, total=False):
    """The keywords both clients take, each optional.

    ``security`` connects to ``bootstrap`` (default plaintext), or ``wire`` is a ready connection;
    ``trust`` signs and verifies (None, the default: the unsigned path of a deployment without a
    registry); ``metrics`` counts (default: a fresh :class:`ClientMetrics`); ``clock`` gives epoch
    seconds (default :func:`time.time`).
    """

    security: ClientSecurity
    trust: Trust | None
    wire: Wire | None
    metrics: ClientMetrics | None
    clock: Callable[[], float]


class Endpoint:
    """An institution's connection: reads ``reads``, sends signed records (base of the two clients).

    A subclass names the topic it reads in ``reads_topic`` (the identity's topic of that name), or
    None for a client that only sends (no consumer, no reading task).
    """

    reads_topic: ClassVar[str | None]

    def __init__(
        self,
        bootstrap: str,
        identity: Identity,
        topics: Topics,
        codec: Codec,
        catalogue: Catalogue,
        **options: Unpack[Options],
    ) -> None:
        unknown = options.keys() - Options.__optional_keys__
        if unknown:
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(unknown))}")
        wire = options.get("wire")
        metrics = options.get("metrics")
        self.wire = KafkaWire(bootstrap, options.get("security", PLAINTEXT)) if wire is None else wire
        self.identity = identity
        self.topics = topics
        self.codec = codec
        self.catalogue = catalogue
        self.trust = options.get("trust")
        self.metrics = ClientMetrics() if metrics is None else metrics
        self.clock = options.get("clock", time.time)
        self.reads = None if self.reads_topic is None else identity.topic(topics, self.reads_topic)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        await self.wire.start(self.reads)
        if self.reads is not None:
            self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Stop reading and disconnect; the reading task's failure is raised here, unless the block
        itself raised (its exception is the one that says what went wrong first)."""
        task, self._task = self._task, None
        try:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        except Exception:
            if exc_type is None:
                raise
        finally:
            await self.wire.stop()

    async def _read(self) -> None:
        try:
            while True:
                # the records of one fetch concurrently: a data holder's answers wait for their
                # acknowledgements together, not one after the other
                await asyncio.gather(*(self.handle(rec) for rec in await self.wire.poll(_POLL_MS)))
        except Exception as exc:
            self.stopped(exc)
            raise

    @property
    def reading(self) -> bool:
        """Whether the reading task runs (it stops when the broker fails it; ``async with`` ends it)."""
        return self._task is not None and not self._task.done()

    def stopped(self, exc: Exception) -> None:
        """The reading task failed with ``exc`` (overridden: an institution fails its waiting verdicts).
        The failure itself is raised again when the ``async with`` block ends."""

    async def handle(self, rec: Received) -> None:
        """One record read (overridden)."""
        raise NotImplementedError

    def now_ms(self) -> int:
        """The client's clock, in epoch milliseconds."""
        return int(self.clock() * 1000)

    def check(self, rec: Received, kind: RecordKind) -> Refused | None:
        """None if the platform signed ``rec`` as a ``kind`` of this side (or nothing is checked)."""
        if self.trust is None:
            return None
        binding = Binding(self.identity.side, kind, rec.key or b"")
        found = self.trust.verifier.verify_platform(rec.value or b"", rec.headers, binding, self.now_ms())
        return found if isinstance(found, Refused) else None

    async def send(self, topic: str, kind: RecordKind, key: bytes, value: bytes) -> None:
        """Send ``value`` under ``key``, signed as the institution when it has a signer."""
        headers: tuple[tuple[str, bytes], ...] = ()
        if self.trust is not None:
            headers = self.trust.signer.headers(value, Binding(self.identity.side, kind, key), self.now_ms())
        await self.wire.send(topic, key, value, headers)
        self.metrics.sent.labels(kind.value).inc()

    def refuse(self, record: str, reason: str) -> None:
        """Count one refusal."""
        self.metrics.refused.labels(record, reason).inc()
