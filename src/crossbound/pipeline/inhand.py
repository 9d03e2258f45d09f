"""Hop records this process produced, kept decoded for the hop that consumes them in the same process.

A request with stateful rules crosses the internal hop topic once per hop, as an Avro ``QuotaCheck``
that carries the whole request, whose payload is Avro again: three decodes per hop when read back.
Where the hop record stays in process (the Harness, which runs the hop topic in-process, and a
worker whose hop lands on one of its own partitions) the producer had all three in hand a moment
before, so :class:`InHand` keeps them, keyed by the record's bytes: the consuming hop takes them
back only for exactly the bytes they were encoded into, so what it reads is what a decode of those
bytes gives. Beside them it keeps the findings the record carries, as the producer had them, and the
request's preconditions that read neither ``now`` nor an attestation, as already evaluated on that
request and payload (:func:`crossbound.rules.compiler.request_memo`): the same values, one CEL run
fewer per rule and hop. Anything else (a record from another process, one evicted, a redelivery
after it was taken) is decoded as before. The record is still encoded: it is what crosses the broker, and what
the output budget and the golden file see.

The entries are bounded (``max_kept``, oldest dropped first): a hop record consumed by another
worker is never taken back here.
"""

from __future__ import annotations

from typing import Any

from crossbound.codec.records import QuotaCheck, Request
from crossbound.rules import Finding

__all__ = ["Decoded", "InHand"]

# the hop record, its request and payload, its findings (as finding() reads them back), the memo
Decoded = tuple[QuotaCheck, Request, dict[str, Any], tuple[Finding, ...], dict[Any, Any]]


class InHand:
    """Decoded forms of hop records by their encoded bytes, taken at most once each."""

    def __init__(self, max_kept: int = 10_000) -> None:
        self.kept: dict[bytes, Decoded] = {}
        self.max_kept = max_kept

    def keep(self, value: bytes, decoded: Decoded) -> None:
        """Remember what ``value`` decodes to, dropping the oldest entry when full."""
        kept = self.kept
        if len(kept) >= self.max_kept:
            if not kept:  # max_kept 0: nothing is kept
                return
            del kept[next(iter(kept))]
        kept[value] = decoded

    def take(self, value: bytes) -> Decoded | None:
        """What ``value`` decodes to, if this process encoded it and it was not taken yet."""
        return self.kept.pop(value, None)
