"""An in-memory broker and platform for the client's unit tests.

:class:`Memory` holds topics as lists; :class:`MemoryWire` is a :class:`crossbound.client.Wire` over
it that reads from the end as it starts, as :class:`~crossbound.client.KafkaWire` does. :class:`Platform`
plays the worker: what lands on an input topic goes through a :class:`~crossbound.testing.Harness`
(the real pipeline), and each verdict and attestation request it publishes is signed with the
side's platform key (``forge`` lets a test tamper with one on its way out). :class:`World` is the
tests' view of it all (the ``world`` fixture of the directory's conftest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from crossbound.client import Identity, Trust
from crossbound.client.endpoint import Endpoint
from crossbound.client.wire import Headers, Received
from crossbound.codec import Codec
from crossbound.domain import Side
from crossbound.participants import Registry
from crossbound.rules import Catalogue
from crossbound.signing import HEADER, Binding, RecordKind, Signer
from crossbound.testing import Harness, Published
from crossbound.testing.participants import GeneratedRegistry
from crossbound.testing.traffic import Case
from crossbound.topics import Topics

E = TypeVar("E", bound=Endpoint)


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    headers: Headers


@dataclass
class Memory:
    topics: dict[str, list[Rec]] = field(default_factory=dict)
    on_send: Callable[[Rec], None] | None = None

    def append(self, rec: Rec) -> None:
        self.topics.setdefault(rec.topic, []).append(rec)

    def wire(self) -> MemoryWire:
        return MemoryWire(self)


class MemoryWire:
    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self.read: str | None = None
        self.offset = 0
        self.started = self.stopped = False

    async def start(self, read: str | None) -> None:
        self.read, self.offset, self.started = read, len(self.memory.topics.get(read, [])), True

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        rec = Rec(topic, 0, key, value, tuple(headers))
        self.memory.append(rec)
        if self.memory.on_send is not None:
            self.memory.on_send(rec)

    async def poll(self, timeout_ms: int) -> list[Received]:
        assert self.read is not None
        got = self.memory.topics.get(self.read, [])[self.offset :]
        if not got:
            await asyncio.sleep(0.001)
        self.offset += len(got)
        return list(got)


KIND = {"verdicts": RecordKind.VERDICT, "attestation-requests": RecordKind.ATTESTATION_REQUEST}


@dataclass
class Platform:
    """The worker over ``memory``: the harness's pipeline, its outputs signed by ``signers`` (by side)."""

    memory: Memory
    harness: Harness
    signers: dict[Side, Signer]
    forge: Callable[[Published, Headers], tuple[bytes, Headers]] | None = None

    def __post_init__(self) -> None:
        self.memory.on_send = self.received

    def received(self, rec: Rec) -> None:
        if rec.topic.rsplit(".", 1)[-1] not in ("requests", "attestations", "fingerprints"):
            return
        self.publish(self.harness.send(rec.topic, rec.key, rec.value))

    def publish(self, published: list[Published]) -> None:
        for p in published:
            kind = p.topic.rsplit(".", 1)[-1]
            side = Side(p.topic.removeprefix(self.harness.topics.prefix).split(".", 1)[0].upper())
            headers: Headers = p.headers
            if kind in KIND and not any(k == HEADER for k, _ in headers):
                binding = Binding(side, KIND[kind], p.key or b"")
                headers = self.signers[side].headers(p.value, binding, int(self.harness.now * 1000))
            value = p.value
            if self.forge is not None and kind in KIND:
                value, headers = self.forge(p, headers)
            self.memory.append(Rec(p.topic, 0, p.key, value, headers))


NOW = 1_790_000_000.0


@dataclass
class World:
    harness: Harness
    memory: Memory
    platform: Platform
    registry: Registry
    generated: GeneratedRegistry
    case: Case

    @property
    def codec(self) -> Codec:
        return self.harness.codec

    @property
    def catalogue(self) -> Catalogue:
        return self.harness.catalogue

    def identity(self, role: str) -> Identity:
        assert self.case.request is not None
        inst = self.case.request[f"{role}_inst"]
        participant = self.registry.find(inst["scheme"], inst["id"])
        assert participant is not None
        return Identity.of(participant)

    def trust(self, identity: Identity) -> Trust:
        return Trust.load(self.registry, identity, self.key_file(identity))

    def key_file(self, identity: Identity) -> Path:
        return self.generated.private_key(f"{identity.key}-1")

    def clock(self) -> float:
        return self.harness.now

    def client(
        self, cls: type[E], identity: Identity, *args: Any, signed: bool = True, topics: Topics | None = None
    ) -> E:
        """A client ``cls`` (after its identity, ``args``) of ``identity`` over this world's broker."""
        return cls(  # type: ignore[call-arg]
            "unused:9092",
            identity,
            topics or self.harness.topics,
            self.codec,
            self.catalogue,
            *args,
            trust=self.trust(identity) if signed else None,
            wire=self.memory.wire(),
            clock=self.clock,
        )

    @property
    def request(self) -> dict[str, Any]:
        assert self.case.request is not None
        return self.case.request

    @property
    def answer(self) -> dict[str, Any]:
        assert self.case.attestation is not None
        return {k: self.case.attestation[k] for k in ("status", "payload", "attested_at")}
