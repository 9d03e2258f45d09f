"""The runtime contract, written once: route by topic, the one error policy, the hop loop, timers, rebalance.

A runtime (the Faust worker in :mod:`crossbound.runtime.app`, the broker-free
:class:`crossbound.testing.Harness`) maps its events onto :class:`Pipeline` and produces what it returns:

* every consumed record, of the public input topics (the registry topics ``<side>.fingerprints``
  and, under ``per_institution``, ``<side>.<key>.fingerprints`` included,
  :mod:`~crossbound.pipeline.fingerprints`) and of the internal hop topic ``<app>.quota``, goes to
  :meth:`Pipeline.handle`;
* records for the internal hop topic go back to :meth:`Pipeline.handle` at the partition of their
  key: through the broker in the worker, in-process with :meth:`Pipeline.loop` in the Harness;
* the timers call :meth:`Pipeline.sweep` (or :meth:`Pipeline.sweep_sourced`) and
  :meth:`Pipeline.housekeeping` (forgetting what is past its window or retention: see
  :mod:`~crossbound.pipeline.sweeper`); after a rebalance, :meth:`Pipeline.on_rebalance`.

The error policy: every input ends in exactly one verdict or one dead letter, whatever raises where.
A record found unusable is dead-lettered with its reason; anything unexpected is logged and
dead-lettered as ``internal_error`` on the side it belongs to: a public input on its own side, a hop
record on its requester's side, with the source coordinates the hop record carries (offset -1: the hop
record does not carry it), a parked request that fails to time out with its own coordinates. The
detail names the exception's type only, never a value. A dead letter keeps the record's value whole
(or its first 64 KiB over the limit) but only the first bytes of its key and ids, so that no key or
id, however long, makes it too large to produce. A record of the pipeline's own that does not
decode at all (a ``pending`` entry, a hop record) names no input to answer: it is dropped, logged and
counted in ``crossbound_unreadable_total``, and a pending entry leaves the table, so no record is
met again at every start. An unreadable ``answered`` or ``usage`` value leaves its table the same
way, so it fails no later request of its key (see :mod:`~crossbound.pipeline.stores` and
:mod:`~crossbound.pipeline.hops` for what the request that met it gets). The input size limit
never applies to these (see :mod:`crossbound.codec`).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import cast

from crossbound.codec import Codec
from crossbound.codec.records import QuotaCheck
from crossbound.domain import DeadLetterReason
from crossbound.metrics import Metrics
from crossbound.participants import Registry
from crossbound.pipeline.attestations import Attestations
from crossbound.pipeline.budget import BudgetedTable, OutputLimits
from crossbound.pipeline.decoding import DeadLetter, Decoder
from crossbound.pipeline.fingerprints import FingerprintRegistry
from crossbound.pipeline.hops import HOP, Hops
from crossbound.pipeline.issuers import IssuerCheck
from crossbound.pipeline.outputs import Outputs
from crossbound.pipeline.records import Incoming, Outgoing
from crossbound.pipeline.requests import Requests
from crossbound.pipeline.signatures import Signatures
from crossbound.pipeline.stores import AnsweredStore, PendingStore, State
from crossbound.pipeline.sweeper import Sweeper
from crossbound.rules import Catalogue, Rule
from crossbound.rules.engine import OnError
from crossbound.signing import Signer
from crossbound.topics import SIDES, TABLES, Topics

__all__ = ["Pipeline", "Tables"]

log = logging.getLogger(__name__)
KEY_KEEP_BYTES = 256  # what a dead letter keeps of an input's key (a request id is 36 bytes)
ID_KEEP_CHARS = 128  # ...and of the request and scenario ids read from it
Handler = Callable[[str, Incoming], list[Outgoing]]
Failure = Callable[[str, Incoming, Exception], list[Outgoing]]


@dataclass(frozen=True, slots=True)
class Tables:
    """The state a pipeline keeps, all keyed by bytes; Faust tables in the worker, dicts in tests.

    ``pending`` and ``answered`` are keyed by request id (Avro ``PendingRequest``; an 8-byte
    forget-at prefix, then Avro ``AnsweredRequest``); ``usage`` by hop key (Avro ``QuotaUsage``);
    ``fingerprints`` by side and digest (an 8-byte source offset, then Avro ``Fingerprint``): a
    global table in the worker (see :mod:`~crossbound.pipeline.fingerprints`).
    """

    pending: State
    answered: State
    usage: State
    fingerprints: State


class Pipeline:
    """Records in, records out: one instance per worker process, over its tables."""

    def __init__(
        self,
        codec: Codec,
        catalogue: Catalogue,
        metrics: Metrics,
        topics: Topics,
        tables: Tables,
        *,
        attestation_timeout_s: float = 30.0,
        dedupe_retention_s: float = 3600.0,
        partitions: int | None = None,
        clock: Callable[[], float] = time.time,
        limits: OutputLimits | None = None,
        participants: Registry | None = None,
        signers: Mapping[str, Signer] | None = None,
    ) -> None:
        if limits is not None:  # every output and table write checked against its topic's budget
            tables = Tables(
                *(
                    BudgetedTable(table, name, topics.changelog(name), limits, metrics)
                    for name, table in zip(
                        TABLES,
                        (tables.pending, tables.answered, tables.usage, tables.fingerprints),
                        strict=True,
                    )
                )
            )
        self.codec = codec
        self.catalogue = catalogue
        self.metrics = metrics
        self.topics = topics
        self.tables = tables
        decoder = Decoder(codec, catalogue)
        on_error = {sid: self._rule_error_counter(sid) for sid in catalogue.scenarios}
        self.outputs = outputs = Outputs(codec, metrics, topics, clock, limits)
        self.signatures: Signatures | None = None  # without a registry, nothing is signed or checked
        if participants is not None:
            self.signatures = Signatures(participants, signers or {}, topics, metrics)
            outputs.signature_reserve = self.signatures.reserve
        self.pending = pending = PendingStore(tables.pending, decoder)
        self.answered = answered = AnsweredStore(
            tables.answered, codec, pending, int(dedupe_retention_s * 1000), metrics, clock
        )
        timeout_ms = int(attestation_timeout_s * 1000)
        issuers = None
        if participants is not None:  # registry records signed by their issuers, checked
            issuers = IssuerCheck(participants, catalogue, topics, metrics, clock)
        self.fingerprints = FingerprintRegistry(
            tables.fingerprints, decoder, answered, outputs, metrics, on_error, issuers
        )
        self.requests = Requests(
            decoder, pending, answered, outputs, metrics, on_error, clock, timeout_ms, partitions,
            self.signatures, fingerprints=self.fingerprints,
        )  # fmt: skip
        self.attestations = Attestations(
            decoder, pending, answered, outputs, metrics, on_error, clock, partitions, self.signatures
        )
        self.clock = clock
        self.hops = Hops(tables.usage, decoder, answered, outputs, metrics, on_error, clock)
        self.sweeper = Sweeper(decoder, pending, answered, outputs, clock, tables.usage, metrics)
        self._asks = {topics.attestation_requests(side) for side in SIDES}
        self._routes: dict[str, tuple[str, Handler, Failure]] = {
            topics.quota: ("", self.hops.on_hop, self._hop_failed)
        }
        for side in SIDES:
            self._routes[topics.requests(side)] = (side, self.requests.on_request, self._input_failed)
            self._routes[topics.attestations(side)] = (
                side,
                self.attestations.on_attestation,
                self._input_failed,
            )
        registries = {topics.fingerprints(s): s for s in SIDES}
        registries |= {topic: side for topic, (side, _) in topics.participant_registries().items()}
        for topic, side in registries.items():
            self._routes[topic] = (side, self.fingerprints.on_fingerprint, self._input_failed)
        for topic, (side, kind) in topics.participant_inputs().items():  # per_institution layout
            handle = self.requests.on_request if kind == "requests" else self.attestations.on_attestation
            self._routes[topic] = (side, handle, self._input_failed)

    def _rule_error_counter(self, scenario: str) -> OnError:
        def count(rule: Rule, exc: BaseException) -> None:
            self.metrics.rule_error(scenario, rule.id)

        return count

    # -- records ----------------------------------------------------------------------------------

    def handle(self, rec: Incoming) -> list[Outgoing]:
        """Process one consumed record: what to produce. Raises only for a topic it does not read."""
        route = self._routes.get(rec.topic)
        if route is None:
            raise ValueError(f"record from a topic this pipeline does not read: {rec.topic}")
        side, handler, failed = route
        try:
            outs = handler(side, rec)
            return outs if self.signatures is None else self.signatures.sign(outs, self._now_ms())
        except Exception as exc:  # noqa: BLE001  the one error policy: every input ends in one outcome
            return failed(side, rec, exc)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def refused(self, rec: Incoming, out: Outgoing, error: str) -> list[Outgoing]:
        """The dead letter of ``rec`` whose output ``out`` the producer or broker refused (``error``: the
        exception's type), and no state left that would answer it again: a request parked for an
        attestation request that was never sent is unparked (no timeout verdict follows)."""
        route = self._routes.get(rec.topic)
        if route is None:
            raise ValueError(f"record from a topic this pipeline does not read: {rec.topic}")
        side, _, failed = route
        if out.topic in self._asks and out.key is not None:
            self.pending.discard(out.key)
        detail = f"its record for topic {out.topic!r} was refused ({error})"
        rid = None if rec.key is None or rec.topic == self.topics.quota else rec.key.decode(errors="replace")
        return failed(side, rec, DeadLetter(DeadLetterReason.OUTPUT_REFUSED, detail, rid))

    def loop(self, outs: Iterable[Outgoing], deliver: Callable[[Outgoing], Incoming]) -> Iterator[Outgoing]:
        """Run the internal hop topic in-process: every output, in order, with each hop record followed.

        ``deliver`` gives a hop record its consumed form (coordinates, timestamp); the hop's own
        outputs join the queue. Yields the hop records too (``out.topic == topics.quota``).
        """
        queue = deque(outs)
        quota = self.topics.quota
        while queue:
            out = queue.popleft()
            yield out
            if out.topic == quota:
                queue.extend(self.handle(deliver(out)))

    # -- the error policy ---------------------------------------------------------------------------

    def _dead_letter(
        self,
        side: str,
        rec: Incoming,
        reason: DeadLetterReason,
        detail: str,
        request_id: str | None,
        scenario: str | None,
    ) -> Outgoing:
        """A dead letter that fits the producer whatever the record: its key and ids cut short.

        The input limit bounds the value only; the key is the producer's too, up to the broker's
        limit, and the ids read from the value may fill it. Copied whole (the key twice, the ids
        beside the value that holds them) they could make the dead letter too large to produce,
        which stops the agent: no record may do that. The value is kept as it is.
        """
        if rec.key is not None and len(rec.key) > KEY_KEEP_BYTES:
            rec = replace(rec, key=rec.key[:KEY_KEEP_BYTES])
        request_id = None if request_id is None else request_id[:ID_KEEP_CHARS]
        scenario = None if scenario is None else scenario[:ID_KEEP_CHARS]
        return self.outputs.dead_letter(side, rec, reason, detail, request_id, scenario)

    def _input_failed(self, side: str, rec: Incoming, exc: Exception) -> list[Outgoing]:
        """A public input: dead-lettered on its own side."""
        reason, detail, scenario = _why(rec, exc, "while processing")
        request_id = exc.request_id if isinstance(exc, DeadLetter) else None
        return [self._dead_letter(side, rec, reason, detail, request_id, scenario)]

    def _hop_failed(self, side: str, rec: Incoming, exc: Exception) -> list[Outgoing]:
        """A hop record: the request it carries is dead-lettered on its requester's side."""
        try:
            chk = cast(QuotaCheck, self.codec.decode(rec.value or b"", (HOP,))[1])
        except Exception:  # noqa: BLE001  our own record, unreadable: nothing to answer with
            log.error("undecodable record on %s[%d]@%d: dropped", rec.topic, rec.partition, rec.offset)
            self.metrics.unreadable("quota")
            return []
        rid = chk["request_id"]
        source = Incoming(chk["source_topic"], chk["source_partition"], -1, rid.encode(), chk["request"])
        reason, detail, scenario = _why(rec, exc, "in a stateful hop")
        return [self._dead_letter(self._side(source.topic), source, reason, detail, rid, scenario)]

    def _expiry_failed(self, key: bytes, exc: Exception) -> list[tuple[str, int, Outgoing]]:
        """A parked request that could not be timed out: dead-lettered with its own coordinates."""
        raw = self.pending.discard(key)
        try:
            parked = None if raw is None else self.pending.record(key, raw)
        except Exception:  # noqa: BLE001  an unreadable table entry: nothing left to answer with
            parked = None
        if parked is None:
            if raw is not None:  # an unreadable entry, now out of the table: counted, not retried
                self.metrics.unreadable("pending")
            log.error("parked request %r could not be timed out (%s): dropped", key, type(exc).__name__)
            return []
        topic, partition = parked["source_topic"], parked["source_partition"]
        rec = Incoming(topic, partition, parked["source_offset"], key, parked["request"])
        reason, detail, scenario = _why(rec, exc, "at its timeout")
        rid = key.decode(errors="replace")
        return [
            (
                topic,
                partition,
                self._dead_letter(self._side(topic), rec, reason, detail, rid, scenario),
            )
        ]

    def _side(self, input_topic: str) -> str:
        route = self._routes.get(input_topic)
        return "" if route is None else route[0]

    # -- timers and rebalance -------------------------------------------------------------------------

    def sweep(self) -> list[Outgoing]:
        """Answer parked requests whose deadline passed with ``ATTESTATION_TIMEOUT`` (the sweeper timer)."""
        return [out for _, _, out in self.sweep_sourced()]

    def sweep_sourced(self) -> list[tuple[str, int, Outgoing]]:
        """:meth:`sweep`, each output with the input topic and partition of its request (exactly_once)."""
        outs: list[tuple[str, int, Outgoing]] = []
        for key in self.sweeper.due():
            try:
                topic, partition, out = self.sweeper.expire(key)
                if self.signatures is not None:
                    (out,) = self.signatures.sign([out], self._now_ms())
                outs.append((topic, partition, out))
            except Exception as exc:  # noqa: BLE001  the one error policy, for a timeout
                outs += self._expiry_failed(key, exc)
        return outs

    def housekeeping(self) -> int:
        """Forget what is past its window or retention, and set the pending gauge.

        Returns how many answered requests were forgotten; everything removed is counted in
        ``crossbound_pruned_total`` (see :mod:`~crossbound.pipeline.sweeper`).
        """
        dropped = self.sweeper.forget()
        self.sweeper.prune_ledgers()
        self.metrics.set_pending(self.sweeper.pending_counts())  # a full scan: not on every sweep
        return dropped

    def on_rebalance(self) -> None:
        """The tables may hold other partitions now: rebuild the deadline heaps at the next sweep."""
        self.sweeper.reindex()


def _why(rec: Incoming, exc: Exception, where: str) -> tuple[DeadLetterReason, str, str | None]:
    """Reason, detail and scenario of a dead letter for ``exc``; the unexpected ones are logged.

    The detail names the exception's type only: its message may quote a value.
    """
    if isinstance(exc, DeadLetter):
        return exc.reason, exc.detail, exc.scenario
    log.error("internal error on %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, type(exc).__name__)
    return DeadLetterReason.INTERNAL_ERROR, f"unexpected {type(exc).__name__} {where}", None
