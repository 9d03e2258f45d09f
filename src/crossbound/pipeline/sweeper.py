"""The timers' work: attestation timeouts, forgetting answered requests, counting what is parked.

The tables are partitioned by key, so the worker's timers change them outside of a stream event.
Deadlines and forget-at times are kept in heaps (:mod:`crossbound.pipeline.stores`), so a sweep costs
what is due, not what is stored; an entry is acted on only if the table still agrees with its heap.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from crossbound.codec.records import PendingRequest
from crossbound.pipeline.attestations import finding
from crossbound.pipeline.decoding import Decoder
from crossbound.pipeline.outputs import Outputs
from crossbound.pipeline.records import Outgoing
from crossbound.pipeline.stores import AnsweredStore, PendingStore
from crossbound.rules import Finding

__all__ = ["Due", "Sweeper"]

Due = tuple[bytes, bytes, PendingRequest | None]  # a pending key past its deadline, its value, its record


class Sweeper:
    """Timeouts and forgetting, over the two request stores."""

    def __init__(
        self,
        decoder: Decoder,
        pending: PendingStore,
        answered: AnsweredStore,
        outputs: Outputs,
        clock: Callable[[], float],
    ) -> None:
        self.decoder = decoder
        self.pending = pending
        self.answered = answered
        self.outputs = outputs
        self.clock = clock

    def reindex(self) -> None:
        """Forget the heaps; the next sweep rebuilds them from the tables (after a rebalance)."""
        self.pending.indexed = self.answered.indexed = False

    def _ensure_index(self) -> None:
        if not self.pending.indexed or not self.answered.indexed:
            self.pending.index()
            self.answered.index()

    def due(self) -> Iterator[bytes]:
        """The parked keys whose deadline passed (still parked, not parked again with a later one)."""
        self._ensure_index()
        now_ms = int(datetime.fromtimestamp(self.clock(), UTC).timestamp() * 1000)
        heap, table = self.pending.deadlines, self.pending.table
        while heap and heap[0][0] <= now_ms:
            _, key = heapq.heappop(heap)
            raw = table.get(key)
            if raw is None:
                continue  # answered meanwhile, or no longer ours
            if key in self.answered.table:  # answered, but a crash before unparking left it parked
                self.pending.discard(key)
                continue
            try:
                deadline = self.pending.record(key, raw)["deadline"]
            except Exception:  # noqa: BLE001  unreadable: expire() fails on it, and the error policy decides
                yield key
                continue
            if deadline > now_ms:  # parked again since, with a later deadline
                heapq.heappush(heap, (deadline, key))
                continue
            yield key

    def expire(self, key: bytes) -> tuple[str, int, Outgoing]:
        """Answer the parked request ``key`` with ``ATTESTATION_TIMEOUT``, with its input coordinates.

        The input partition is the pending key's own (requests are keyed by request id and checked
        against murmur2, the tables place keys by murmur2), so under exactly_once the worker sends
        the verdict through the transaction that also carries the table writes of that partition.
        """
        now = datetime.fromtimestamp(self.clock(), UTC)
        parked, request, _ = self.pending.load(key, self.pending.table[key])
        rs = self.decoder.ruleset(parked["scenario_id"], request["request_id"])
        findings = [finding(f) for f in parked["findings"]]
        findings.append(Finding(f"{rs.scenario_id}:timeout", rs.timeout_severity, "", "ATTESTATION_TIMEOUT"))
        verdict = self.outputs.verdict(rs, request, findings, {}, now, parked["source_partition"])
        source = parked["source_topic"], parked["source_partition"], parked["source_offset"]
        self.answered.answer(key, request, parked["body_sha256"], source, None, verdict)
        self.pending.remove(key)  # last: on a fault before it, the error policy still finds it parked
        return parked["source_topic"], parked["source_partition"], verdict

    def forget(self) -> int:
        """Drop answered request ids past their retention; returns how many. Costs what is due."""
        self._ensure_index()
        now_ms = int(self.clock() * 1000)
        heap, table = self.answered.forgets, self.answered.table
        dropped = 0
        while heap and heap[0][0] <= now_ms:
            _, key = heapq.heappop(heap)
            raw = table.get(key)
            if raw is None:
                continue
            due = self.answered.forget_time(key, raw)
            if due is None:  # unreadable: dropped (and counted) already
                continue
            if due > now_ms:  # answered again since, remembered for longer
                heapq.heappush(heap, (due, key))
                continue
            del table[key]
            dropped += 1
        return dropped

    def pending_counts(self) -> dict[str, int]:
        """Parked requests by scenario, for the ``crossbound_pending_attestations`` gauge."""
        counts: dict[str, int] = {}
        for key, raw in list(self.pending.table.items()):
            try:
                sid = self.pending.record(key, raw)["scenario_id"]
            except Exception:  # noqa: BLE001, S112  a gauge: an unreadable entry is the sweeper's to answer
                continue
            counts[sid] = counts.get(sid, 0) + 1
        return counts
