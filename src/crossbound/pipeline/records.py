"""What goes in and out of the processor: Kafka coordinates, and records to produce."""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["Answered", "Incoming", "Outgoing"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """One consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to produce; ``partition`` None lets the producer's partitioner choose by key."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


_ANSWERED = struct.Struct(">q32siq")


@dataclass(frozen=True, slots=True)
class Answered:
    """Value of the ``answered`` table: enough to tell a redelivery from a duplicate or a conflict."""

    forget_at_ms: int
    body_sha256: bytes
    source_partition: int
    source_offset: int
    source_topic: str

    def encode(self) -> bytes:
        """Compact binary form (the table is large; no Avro needed for five fixed fields)."""
        head = _ANSWERED.pack(self.forget_at_ms, self.body_sha256, self.source_partition, self.source_offset)
        return head + self.source_topic.encode()

    @classmethod
    def decode(cls, data: bytes) -> Answered:
        """Inverse of :meth:`encode`."""
        forget, digest, part, off = _ANSWERED.unpack_from(data)
        return cls(forget, digest, part, off, data[_ANSWERED.size :].decode())

    @staticmethod
    def forget_at(data: bytes) -> int:
        """Read only the expiry, for the sweeper."""
        return int(_ANSWERED.unpack_from(data)[0])
