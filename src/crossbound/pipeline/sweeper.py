"""The timers' work: attestation timeouts, forgetting what is past its window, counting what is parked.

The tables are partitioned by key, so the worker's timers change them outside of a stream event.
Deadlines and forget-at times are kept in heaps (:mod:`crossbound.pipeline.stores`), so a sweep costs
what is due, not what is stored; an entry is acted on only if the table still agrees with its heap.

What each table holds is bounded by a retention, and what the sweep removes is counted in
``crossbound_pruned_total{table}``:

* ``pending``: a request waits at most the attestation timeout (then it is answered); an entry left
  parked after its answer (a crash between answering and unparking) goes at its deadline;
* ``answered``: until the request's ``expires_at`` plus ``pipeline.dedupe_retention_s``; the ids
  this process answered itself (kept beside the table, so a redelivery it already answered is not
  sent twice) for ``dedupe_retention_s`` after it answered them;
* ``usage``: a key with no current window left (its days and years are over) and not written for
  ``dedupe_retention_s`` (so a redelivered hop still finds its answer); a key with a current window
  not written for that long keeps its totals and loses the replies kept for redelivered hops.
  Windows only end at local midnight, so the keys are scanned once a local day (and after a start
  or rebalance), a bounded chunk per housekeeping tick; a key that is written again before its
  turn is pruned by its hop instead (:func:`crossbound.rules.stateful.prune`). A value that does
  not decode is left to the hop that meets it, which tells its request the history is lost
  (:mod:`crossbound.pipeline.hops`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import cast

from crossbound.codec import Codec
from crossbound.codec.records import PendingRequest, QuotaUsage
from crossbound.errors import DecodeError
from crossbound.metrics import Metrics
from crossbound.pipeline.attestations import finding
from crossbound.pipeline.decoding import Decoder
from crossbound.pipeline.outputs import Outputs
from crossbound.pipeline.records import Outgoing
from crossbound.pipeline.stores import AnsweredStore, PendingStore, State
from crossbound.rules import Finding
from crossbound.rules.stateful import periods, prune

__all__ = ["Due", "Sweeper"]

Due = tuple[bytes, bytes, PendingRequest | None]  # a pending key past its deadline, its value, its record
USAGE = "internal/quota_usage"
LEDGER_CHUNK = 2_000  # usage keys looked at per housekeeping tick: a few tens of ms, not a blocked loop


class Sweeper:
    """Timeouts and forgetting, over the two request stores."""

    def __init__(
        self,
        decoder: Decoder,
        pending: PendingStore,
        answered: AnsweredStore,
        outputs: Outputs,
        clock: Callable[[], float],
        usage: State,
        metrics: Metrics,
    ) -> None:
        self.decoder = decoder
        self.codec: Codec = decoder.codec
        self.pending = pending
        self.answered = answered
        self.outputs = outputs
        self.clock = clock
        self.usage = usage
        self.metrics = metrics
        self._ledger_day: int | None = None  # the local day whose scan of the usage table is under way
        self._ledger_keys: list[bytes] = []  # what is left of that scan

    def reindex(self) -> None:
        """Forget the heaps and the ledger scan; the next sweep rebuilds them from the tables."""
        self.pending.indexed = self.answered.indexed = False
        self._ledger_day = None

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
                self.metrics.pruned("pending", 1)
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
        self.answered.forget_done_here(now_ms)
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
        if dropped:
            self.metrics.pruned("answered", dropped)
        return dropped

    def prune_ledgers(self) -> int:
        """Drop usage keys with no current window, unwritten for the retention; returns how many.

        A key unwritten for the retention that still has a current window (a person's year) keeps its
        windows but loses its hops' replies and counted ids: they are there for a hop redelivered
        within the retention, and would otherwise hold up to 32 verdicts per key for the year.

        One scan per local day, of the keys there were when the day turned (for the retention: the
        day of ``now - retention``, so that keys written late yesterday are past it too), taken
        :data:`LEDGER_CHUNK` keys per call.
        """
        now_ms = int(self.clock() * 1000)
        retention_ms = self.answered.retention_ms
        day = periods(datetime.fromtimestamp((now_ms - retention_ms) / 1000, UTC))["day"]
        if day != self._ledger_day:
            self._ledger_day, self._ledger_keys = day, list(self.usage)
        keys, self._ledger_keys = self._ledger_keys[:LEDGER_CHUNK], self._ledger_keys[LEDGER_CHUNK:]
        period = periods(datetime.fromtimestamp(now_ms / 1000, UTC))
        current = set(period.values())
        dropped = 0
        for key in keys:
            raw = self.usage.get(key)
            if raw is None:
                continue
            try:
                state = cast(QuotaUsage, self.codec.decode(raw, (USAGE,))[1])
            except DecodeError:
                continue  # the hop that meets it resets it and says so (see the module)
            if state["touched_at"] + retention_ms > now_ms:
                continue
            if any(w["period"] in current for w in state["windows"].values()):
                # older than the retention: no redelivered hop needs them; past windows go too
                state["replies"] = state["counted"] = b""
                prune(state["windows"], state["members"], period)
                trimmed = self.codec.encode(USAGE, state)
                if trimmed != raw:
                    self.usage[key] = trimmed
                continue
            del self.usage[key]
            dropped += 1
        if dropped:
            self.metrics.pruned("usage", dropped)
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
