"""The records a fuzz run sends and what it knows of them, and the base every kind of damage builds on."""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from crossbound.codec import Codec
from crossbound.codec.jsonform import attestation_from_json, request_from_json
from crossbound.domain import DeadLetterReason, Side
from crossbound.pipeline.partitioner import partition_for
from crossbound.rules import Catalogue
from crossbound.testing.traffic import Traffic, scenarios
from crossbound.topics import Topics

__all__ = [
    "ANSWERED",
    "ANY",
    "ATTESTATION",
    "DEAD",
    "KAFKA_TIMESTAMPS",
    "REQUEST",
    "TIMEOUT",
    "Base",
    "Fuzzed",
    "Sent",
    "varint_at",
    "zigzag",
]

ANSWERED: Final = "answered"  # the outcome of a record that ends in (or, parked, leads to) a verdict
DEAD: Final = frozenset(r.value for r in DeadLetterReason) - {DeadLetterReason.INTERNAL_ERROR.value}
ANY: Final = DEAD | {ANSWERED}  # a well-formed record with odd values: any outcome but internal_error
REQUEST, ATTESTATION = "core/request", "core/attestation"
TIMEOUT = "ATTESTATION_TIMEOUT"
KAFKA_TIMESTAMPS: Final = (-1, -2, -(2**63), 2**63 - 1, 253_402_300_800_000, 2**62, 0, -62_135_596_800_001)


@dataclass(frozen=True, slots=True)
class Fuzzed:
    """One record to publish, and the outcomes it may have."""

    kind: str
    topic: str
    key: bytes | None
    value: bytes | None
    partition: int
    expect: frozenset[str]
    request_id: str | None = None  # the id it carries, if it decodes at all
    timestamp_ms: int | None = None  # None: the producer's (the Harness's) clock
    headers: tuple[tuple[str, bytes], ...] = ()
    in_reply: bool = False  # an attestation sent once its request asked for it
    outcome: str | None = None  # a valid request's verdict outcome (ACCEPT, REVIEW, REJECT)


@dataclass(frozen=True, slots=True)
class Sent:
    """A record as published: its coordinates (offset None if a reply whose offset is unknown)."""

    record: Fuzzed
    partition: int
    offset: int | None


def zigzag(n: int) -> bytes:
    """An Avro long, canonical; ``n`` may be outside 64 bits (then it is more than ten bytes)."""
    z = (n << 1) ^ (n >> 63) if -(2**63) <= n < 2**63 else abs(n) << 1
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def varint_at(data: bytes, at: int) -> int:
    """Where the varint starting at ``at`` ends."""
    while data[at] & 0x80:
        at += 1
    return at + 1


class Base:
    """Valid base records of every scenario, made fresh on demand, and the records built from them."""

    def __init__(
        self,
        codec: Codec,
        catalogue: Catalogue,
        topics: Topics,
        *,
        seed: int = 0,
        now: float,
        partitions: int = 4,
    ) -> None:
        self.codec = codec
        self.catalogue = catalogue
        self.topics = topics
        self.partitions = partitions
        self.limit = codec.max_record_bytes
        self.rng = random.Random(f"fuzz-{seed}")  # not the traffic's sequence: ids of its own
        self.traffic = Traffic(seed=seed, now=now)
        self._header_len = codec.framing.header_len
        # base records by side: requests that park (nobody answers), and attestations
        self._requests: dict[str, list[dict[str, Any]]] = {s.value: [] for s in Side}
        self._pairs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {s.value: [] for s in Side}
        for sid in scenarios():
            case = self.traffic.case(sid, "valid")
            assert case.request is not None
            request: dict[str, Any] = dict(request_from_json(case.request, codec, catalogue))
            self._requests[request["requester_side"]].append(request)
            if case.attestation is not None:
                att: dict[str, Any] = dict(attestation_from_json(case.attestation, codec, catalogue))
                self._pairs[att["attester_side"]].append((request, att))

    def _kinds(self) -> tuple[Callable[[], list[Fuzzed]], ...]:
        """The makers :meth:`records` takes in turn (a repeated one is drawn more often): the subclass's."""
        raise NotImplementedError

    def records(self, n: int) -> list[Fuzzed]:
        """``n`` records (a pair may be cut in two at the end), every kind in turn."""
        kinds = self._kinds()
        out: list[Fuzzed] = []
        turn = 0
        while len(out) < n:
            out += kinds[turn % len(kinds)]()
            turn += 1
        return out[:n]

    def valid(self, n: int) -> list[Fuzzed]:
        """``n`` valid cases of every scenario (requests and their answers), to interleave."""
        out: list[Fuzzed] = []
        weights = {"valid": 0.6, "review": 0.15, "invalid": 0.15, "mismatch": 0.1}
        for case in self.traffic.mix(n, weights=weights):
            assert case.request is not None
            request = dict(request_from_json(case.request, self.codec, self.catalogue))
            out.append(replace(self._request_record("valid", request), outcome=case.expected))
            if case.attestation is not None:
                att = dict(attestation_from_json(case.attestation, self.codec, self.catalogue))
                out.append(replace(self._attestation_record("valid", att), in_reply=True))
        return out

    # -- building ---------------------------------------------------------------------------------

    def _rid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _side(self) -> str:
        return self.rng.choice((Side.HK.value, Side.SZ.value))

    def _fresh_request(self, side: str | None = None) -> dict[str, Any]:
        base = self.rng.choice(self._requests[side or self._side()])
        return copy.deepcopy(dict(base, request_id=self._rid(), nonce=f"{self.rng.getrandbits(128):032x}"))

    def _fresh_pair(self, side: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        request, att = self.rng.choice(self._pairs[side or self._side()])
        rid = self._rid()
        fresh = copy.deepcopy(dict(request, request_id=rid, nonce=f"{self.rng.getrandbits(128):032x}"))
        return fresh, copy.deepcopy(dict(att, request_id=rid))

    def _fresh_attestation(self, side: str | None = None) -> dict[str, Any]:
        return self._fresh_pair(side)[1]

    def _part(self, key: bytes | None) -> int:
        return self.rng.randrange(self.partitions) if key is None else partition_for(key, self.partitions)

    def _record(
        self, kind: str, topic: str, key: bytes | None, value: bytes | None, expect: Iterable[str], **kw: Any
    ) -> Fuzzed:
        return Fuzzed(kind, topic, key, value, self._part(key), frozenset(expect), **kw)

    def _request_record(self, kind: str, request: Mapping[str, Any], **kw: Any) -> Fuzzed:
        rid = request["request_id"]
        kw.setdefault("expect", {ANSWERED})
        kw.setdefault("key", rid.encode())
        kw.setdefault("value", self.codec.encode(REQUEST, request))
        topic = kw.pop("topic", self.topics.requests(Side(request["requester_side"]).topic))
        return self._record(kind, topic, request_id=rid, **kw)

    def _attestation_record(self, kind: str, att: Mapping[str, Any], **kw: Any) -> Fuzzed:
        rid = att["request_id"]
        kw.setdefault("expect", {ANSWERED})
        kw.setdefault("key", rid.encode())
        kw.setdefault("value", self.codec.encode(ATTESTATION, att))
        topic = kw.pop("topic", self.topics.attestations(Side(att["attester_side"]).topic))
        return self._record(kind, topic, request_id=rid, **kw)

    def _any_input(self) -> tuple[str, str, bytes, bytes]:
        """A valid request or attestation on its own topic: (topic, subject, key, value)."""
        if self.rng.random() < 0.5:
            rec = self._request_record("base", self._fresh_request())
            subject = REQUEST
        else:
            rec = self._attestation_record("base", self._fresh_attestation())
            subject = ATTESTATION
        assert rec.key is not None
        assert rec.value is not None
        return rec.topic, subject, rec.key, rec.value

    def _damaged(self, kind: str, value: bytes, expect: Iterable[str], **kw: Any) -> list[Fuzzed]:
        topic, _, key, _ = kw.pop("base", None) or self._any_input()
        return [self._record(kind, topic, key, value, expect, **kw)]
