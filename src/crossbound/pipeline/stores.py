"""The pipeline's two request tables, each with what this process keeps beside it.

* :class:`PendingStore`: the ``pending`` table (requests waiting for their attestation), the decoded
  form of what this process parked (with the request's own preconditions as its request stage
  evaluated them: :func:`crossbound.rules.compiler.request_memo`), and a heap of their deadlines;
* :class:`AnsweredStore`: the ``answered`` table (what answered each request, until it may be
  forgotten), a heap of those forget-at times, and the keys this process answered itself (for the
  dedupe retention after it answered them: the sweeper drops older ones, so their number follows
  the traffic of one retention, not of the process's life).

The tables stay the truth: a cache entry is used only while the table holds exactly the bytes it
was made from, and a heap entry is acted on only if the table still agrees (see the sweeper). After
a restart or rebalance the heaps are rebuilt from the tables by one scan (:meth:`index`).

An ``answered`` value that does not decode as an ``AnsweredRequest`` (a broken or foreign writer)
is met again by every redelivery or reuse of its request id: it is logged (the request id, never the
value), counted in ``crossbound_unreadable_total{where="answered"}`` and dropped, and the request id
is treated as not answered before. A value too short for its forget-at prefix is dropped the same way
by the sweeper's scan, which would otherwise raise at every sweep.
"""

from __future__ import annotations

import heapq
import logging
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime
from typing import Any, cast

from crossbound.codec import Codec
from crossbound.codec.records import AnsweredRequest, PendingRequest, Request
from crossbound.errors import DecodeError
from crossbound.metrics import Metrics
from crossbound.pipeline.decoding import Decoder
from crossbound.pipeline.records import Outgoing, forget_at, with_forget_at

__all__ = ["AnsweredStore", "Parked", "PendingStore", "State"]

log = logging.getLogger(__name__)
ANSWERED = "internal/answered_request"
PENDING = "internal/pending_request"

State = MutableMapping[bytes, bytes]
"""A table: bytes keys (request ids, hop keys) to Avro bytes; a Faust table in the worker, a dict in tests."""

Parked = tuple[PendingRequest, Request, dict[str, Any]]  # the parked record, its request and payload


class PendingStore:
    """The ``pending`` table, the decoded cache of what this process parked, and the deadline heap."""

    def __init__(self, table: State, decoder: Decoder, max_cached: int = 100_000) -> None:
        self.table = table
        self.decoder = decoder
        self.codec: Codec = decoder.codec
        self.cache: dict[bytes, tuple[bytes, PendingRequest, Request, dict[str, Any], Mapping[Any, Any]]] = {}
        self.max_cached = max_cached
        self.deadlines: list[tuple[int, bytes]] = []  # heap: when parked requests time out
        self.indexed = False

    def park(
        self,
        key: bytes,
        parked: PendingRequest,
        request: Request,
        payload: dict[str, Any],
        memo: Mapping[Any, Any] | None = None,
    ) -> None:
        """Park a request: write the table, keep its decoded form (and ``memo``: its preconditions over
        the request alone, on these request and payload objects), and note its deadline."""
        raw = self.table[key] = self.codec.encode(PENDING, parked)
        cache = self.cache
        if len(cache) >= self.max_cached:
            del cache[next(iter(cache))]
        cache[key] = (raw, parked, request, payload, {} if memo is None else memo)
        if self.indexed:
            heapq.heappush(self.deadlines, (parked["deadline"], key))

    def load(self, key: bytes, raw: bytes) -> Parked:
        """The parked record, its request and the request's payload, decoded (or from the cache)."""
        hit = self.cache.get(key)
        if hit is not None and hit[0] == raw:
            return hit[1], hit[2], hit[3]
        parked = cast(PendingRequest, self.codec.decode(raw, (PENDING,))[1])  # another type: unreadable
        request = cast(Request, self.codec.decode(parked["request"], ("core/request",))[1])
        rs = self.decoder.ruleset(request["scenario_id"], request["request_id"])
        payload = self.decoder.payload(rs, request["payload"], rs.request_subject, request["request_id"])
        return parked, request, payload

    def memo(self, key: bytes, raw: bytes) -> dict[Any, Any]:
        """The memo parked with the request (a copy), if :meth:`load` gives the cached objects; else empty."""
        hit = self.cache.get(key)
        return dict(hit[4]) if hit is not None and hit[0] == raw else {}

    def record(self, key: bytes, raw: bytes) -> PendingRequest:
        """The parked record alone (from the cache, else decoded)."""
        hit = self.cache.get(key)
        if hit is not None and hit[0] == raw:
            return hit[1]
        return cast(PendingRequest, self.codec.decode(raw, (PENDING,))[1])

    def remove(self, key: bytes) -> None:
        """The request is answered: out of the table and the cache."""
        del self.table[key]
        self.cache.pop(key, None)

    def discard(self, key: bytes) -> bytes | None:
        """Drop a parked request that cannot be answered; its value, if it was parked."""
        self.cache.pop(key, None)
        return self.table.pop(key, None)

    def index(self) -> None:
        """Seed the deadline heap with one full scan of the table.

        An entry that does not decode is due at once: the sweeper meets it first, and the pipeline's
        error policy decides what becomes of it.
        """
        deadlines = []
        for key, raw in list(self.table.items()):
            try:
                deadlines.append((self.record(key, raw)["deadline"], key))
            except Exception:  # noqa: BLE001  see above
                deadlines.append((0, key))
        heapq.heapify(deadlines)
        self.deadlines = deadlines
        self.indexed = True


class AnsweredStore:
    """The ``answered`` table, the forget-at heap, and the keys this process answered (bounded)."""

    def __init__(
        self,
        table: State,
        codec: Codec,
        pending: PendingStore,
        retention_ms: int,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.codec = codec
        self.metrics = metrics
        self.pending = pending
        self.retention_ms = retention_ms
        self.clock = clock
        self.forgets: list[tuple[int, bytes]] = []  # heap: when answered ids may be forgotten
        self.indexed = False
        # keys this process answered, oldest first, with when (ms): kept for the retention, and never
        # more than done_here_max of them
        self.done_here: OrderedDict[bytes, int] = OrderedDict()
        self.done_here_max = 500_000

    def get(self, key: bytes) -> AnsweredRequest | None:
        """What answered the request ``key``, if it is still remembered (and readable: see the module)."""
        raw = self.table.get(key)
        if raw is None:
            return None
        try:
            return cast(AnsweredRequest, self.codec.decode(raw[8:], (ANSWERED,))[1])
        except DecodeError:
            self.drop_unreadable(key)
            return None

    def forget_time(self, key: bytes, raw: bytes) -> int | None:
        """When the entry ``key`` may be forgotten; None if its value is too short to say (then dropped)."""
        try:
            return forget_at(raw)
        except struct.error:
            self.drop_unreadable(key)
            return None

    def drop_unreadable(self, key: bytes) -> None:
        """An entry that does not decode: out of the table, counted, logged by its request id alone."""
        self.table.pop(key, None)
        self.done_here.pop(key, None)
        self.metrics.unreadable("answered")
        log.error("unreadable answered entry of request %r: dropped", key)

    @staticmethod
    def again(a: AnsweredRequest) -> Outgoing:
        """The output that answered a request, to send again on a redelivery."""
        return Outgoing(a["output_topic"], a["output_key"], a["output_value"], a["output_partition"])

    def answer(
        self,
        key: bytes,
        request: Request,
        body: bytes,
        source: tuple[str, int, int],
        attestation: tuple[int, int] | None,
        output: Outgoing,
    ) -> None:
        """Remember that a request is answered, and with what, until it expires plus the retention."""
        att_partition, att_offset = attestation or (-1, -1)
        record: AnsweredRequest = {
            "body_sha256": body,
            "source_topic": source[0],
            "source_partition": source[1],
            "source_offset": source[2],
            "attestation_partition": att_partition,
            "attestation_offset": att_offset,
            "output_topic": output.topic,
            "output_partition": output.partition,
            "output_key": output.key,
            "output_value": output.value,
        }
        forget = _ms(request["expires_at"]) + self.retention_ms
        self.table[key] = with_forget_at(forget, self.codec.encode(ANSWERED, record))
        if self.indexed:
            heapq.heappush(self.forgets, (forget, key))
        self.mark_done_here(key)

    def send_again(self, key: bytes, output: Outgoing) -> list[Outgoing]:
        """What to send on a redelivery of what answered ``key``: nothing if this process sent it, else it.

        A copy sent again is noted as sent by this process, so a later redelivery to it (after a
        rebalance, before the next commit) is silent: each crash costs at most one repeat.
        """
        if self.handled_here(key):
            return []
        self.mark_done_here(key)
        return [output]

    def handled_here(self, key: bytes) -> bool:
        """Whether this process produced the answer to ``key`` (its live producer delivers it)."""
        return key in self.done_here or key in self.pending.cache

    def mark_done_here(self, key: bytes) -> None:
        """Note that this process answered ``key`` (a request id, or a hop's own key) or sent it again."""
        done = self.done_here
        if done.pop(key, None) is None and len(done) >= self.done_here_max:
            done.popitem(last=False)
        done[key] = int(self.clock() * 1000)

    def forget_done_here(self, now_ms: int) -> int:
        """Drop the keys this process answered longer than the retention ago; returns how many.

        A redelivery after that is sent once more (at-least-once): by then its answered entry is
        forgotten, or about to be. Costs what is dropped (the oldest come first).
        """
        done, horizon, dropped = self.done_here, now_ms - self.retention_ms, 0
        while done:
            key, marked = next(iter(done.items()))
            if marked > horizon:
                break
            del done[key]
            dropped += 1
        return dropped

    def index(self) -> None:
        """Seed the forget-at heap with one full scan of the table."""
        forgets = []
        for key, raw in list(self.table.items()):
            due = self.forget_time(key, raw)
            if due is not None:
                forgets.append((due, key))
        heapq.heapify(forgets)
        self.forgets = forgets
        self.indexed = True


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)
