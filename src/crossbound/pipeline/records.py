"""What goes in and out of the pipeline: Kafka coordinates, and records to produce."""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["Incoming", "Outgoing", "forget_at", "with_forget_at"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """One consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to produce; ``partition`` None lets the producer's partitioner choose by key."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


_FORGET = struct.Struct(">q")


def forget_at(value: bytes) -> int:
    """The forget-at time (epoch ms) of an ``answered`` table value: its 8-byte prefix."""
    return int(_FORGET.unpack_from(value)[0])


def with_forget_at(forget_ms: int, body: bytes) -> bytes:
    """An ``answered`` table value: the forget-at prefix (read by the sweeper alone) and the Avro body."""
    return _FORGET.pack(forget_ms) + body
