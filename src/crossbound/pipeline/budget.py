"""The size budget of what the pipeline writes: every output, and every table write, fits its topic.

A record the producer or broker refuses is lost, or stops the worker (aiokafka raises at ``send``
over its ``max_request_size``; a broker answers a batch over a topic's ``max.message.bytes`` with
MESSAGE_TOO_LARGE). The pipeline's own records can be larger than the input they come from (an
attestation request carries the request's payload plus an envelope, a hop record and a ``pending``
entry the whole request, a ledger value the replies of its last hops), so the input limit alone
does not keep them under the broker's. :class:`OutputLimits` holds the limit of each topic (the
worker reads each topic's ``max.message.bytes`` at start-up and takes the smaller of it and its
producer's ``max_request_size``); :meth:`OutputLimits.check` raises :class:`OutputTooLarge` for a
record that would not fit, before anything is sent or written, so the input gets its dead letter
(``output_too_large``) and nothing else: checked where the record is built, ahead of every table
write of the same input, and in :class:`BudgetedTable` for the table writes themselves (their
changelog records).

A record's size is counted as a broker counts it: a record batch of that one record, its 61-byte
header and the record's varints at their widest, so the check never lets through what a broker
refuses. The detail of the dead letter names the record, its size, the limit and the topic, never
a value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field

from crossbound.domain import DeadLetterReason
from crossbound.metrics import Metrics
from crossbound.pipeline.decoding import DeadLetter

__all__ = ["BATCH_OVERHEAD", "BudgetedTable", "OutputLimits", "OutputTooLarge", "record_size"]

BATCH_OVERHEAD = 61 + 5 + 1 + 10 + 5 + 5 + 5 + 5
"""A v2 record batch's header (61 bytes) plus one record's length, attributes, timestamp and offset
deltas, key and value lengths and header count, each varint at its widest."""


def record_size(key: bytes | None, value: bytes | None, headers: tuple[tuple[str, bytes], ...] = ()) -> int:
    """An upper bound of the size of a batch holding this one record, as producer and broker see it."""
    size = BATCH_OVERHEAD + (0 if key is None else len(key)) + (0 if value is None else len(value))
    for name, data in headers:
        size += 10 + len(name.encode()) + len(data)
    return size


class OutputTooLarge(DeadLetter):
    """A record the pipeline would write does not fit its topic: the input's dead letter instead."""

    def __init__(self, record: str, size: int, limit: int, topic: str, request_id: str | None = None) -> None:
        super().__init__(
            DeadLetterReason.OUTPUT_TOO_LARGE,
            f"its {record} record of {size} bytes would exceed the {limit}-byte limit of topic {topic!r}",
            request_id,
        )
        self.record = record


@dataclass(frozen=True, slots=True)
class OutputLimits:
    """The largest record (in :func:`record_size` bytes) each topic takes; ``default`` for the rest."""

    default: int
    topics: Mapping[str, int] = field(default_factory=dict)

    def limit(self, topic: str) -> int:
        """The limit of ``topic``."""
        return self.topics.get(topic, self.default)

    def check(
        self,
        record: str,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: tuple[tuple[str, bytes], ...] = (),
        request_id: str | None = None,
    ) -> None:
        """Raise :class:`OutputTooLarge` if this record would not fit ``topic``."""
        size = record_size(key, value, headers)
        limit = self.topics.get(topic, self.default)
        if size > limit:
            raise OutputTooLarge(record, size, limit, topic, request_id)


class BudgetedTable(MutableMapping[bytes, bytes]):
    """A table whose writes are checked against its changelog topic first (a write that would not fit
    raises :class:`OutputTooLarge` and changes nothing). Keys of ``pending`` and ``answered`` are
    request ids, so the dead letter names the request; a ``quota_usage`` key is not one (the hop's
    error path names the request instead), nor a ``fingerprints`` key (a side and a digest)."""

    def __init__(
        self,
        table: MutableMapping[bytes, bytes],
        name: str,
        topic: str,
        limits: OutputLimits,
        metrics: Metrics,
    ) -> None:
        self.table = table
        self.metrics = metrics
        self.name = name
        self.topic = topic
        self.limit = limits.limit(topic)
        self.by_request_id = name in ("pending", "answered")

    def __setitem__(self, key: bytes, value: bytes) -> None:
        size = record_size(key, value)
        if size > self.limit:
            rid = key.decode(errors="replace") if self.by_request_id else None
            self.metrics.output_failed(self.name, "too_large")
            raise OutputTooLarge(self.name, size, self.limit, self.topic, rid)
        self.table[key] = value

    def __getitem__(self, key: bytes) -> bytes:
        return self.table[key]

    def __delitem__(self, key: bytes) -> None:
        del self.table[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, key: object) -> bool:
        return key in self.table

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        """The table's own ``get`` (a Faust table's is not the mixin's)."""
        return self.table.get(key, default)
