"""The worker's send path: what the producer or broker refuses becomes its input's dead letter.

aiokafka refuses a record in two places: at ``send`` (a record over the producer's
``max_request_size``; a topic it cannot find or may not write), and later in the record's future (the
broker's answer: a batch over the topic's ``max.message.bytes``, no authorization, an unknown topic or
partition). Faust wraps the first kind in ``ProducerSendError`` and leaves the second to whoever awaits
the future. Before this module the first crashed the agent (whose stream then stalls) and the second
was lost without a trace, its input's offset committed anyway.

:class:`Sender` sends an agent's outputs record by record, then, before the agent takes its next
batch (and so before Faust acknowledges this batch's offsets), waits for every future of the batch.
A failure is classified by :func:`per_record`:

* **per record** (:data:`PER_RECORD`: the record or its topic is refused, and the same record would be
  refused again, while other records go through): a record refused as too large that fits its topic
  by itself was refused with its batch (aiokafka does not split one), and is sent once more, alone;
  otherwise, or if that fails too, counted in
  ``crossbound_outputs_failed_total{record,reason="refused"}``, and the input gets its dead letter
  (``output_refused``, :meth:`crossbound.pipeline.Pipeline.refused`), sent and awaited the same way. A
  dead letter that is refused too is logged (topic, partition, offset: never a value) and counted as
  ``reason="lost"``: no single record may stop the worker. A timer's verdict (an attestation timeout)
  has no input record of its own: its request is dead-lettered by its input topic and partition and
  its id, without its bytes (offset -1). An audit entry refused is counted (``record="audit_entry"``)
  and logged, never its input's dead letter: the decision it logs was written.
* **anything else** (a timeout of the producer's buffer or of a batch: the broker unreachable for the
  request timeout; a failed authentication; a fenced or closed producer; any exception that is not a
  Kafka error) is the worker's problem, not the record's: it is not swallowed. ``on_fatal`` is called
  (the worker: not ready, one ERROR line, exit with :data:`~crossbound.runtime.worker.EXIT_PRODUCER_FAILED`)
  and the error is raised, as before.

The wait costs each batch one produce round trip (the linger plus the broker's answer). An agent may
settle a batch while it takes the next ones (:meth:`Sender.detach`, :mod:`crossbound.runtime.settling`):
its events are acknowledged when its settle is done.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    MessageSizeTooLargeError,
    PolicyViolationError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)

from crossbound.metrics import Metrics
from crossbound.pipeline import Incoming, Outgoing, Pipeline
from crossbound.pipeline.budget import OutputLimits, record_size
from crossbound.topics import SIDES, Topics

__all__ = ["PER_RECORD", "Sender", "per_record"]

log = logging.getLogger(__name__)

PER_RECORD: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    CorruptRecordException,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
    InvalidTopicError,
    PolicyViolationError,
)
"""Errors of one record or its topic: the record is refused, the worker goes on."""

Send = Callable[[Outgoing, tuple[str, int] | None], Awaitable[Any]]
"""Hand one record to the producer; returns the record's future. The second argument is the topic and
partition of its source record (exactly_once sends in that partition's transaction)."""


def per_record(exc: BaseException) -> bool:
    """Whether ``exc`` refuses one record (see :data:`PER_RECORD`), Faust's ``ProducerSendError``
    unwrapped to the Kafka error it was raised from."""
    cause = exc.__cause__ if type(exc).__name__ == "ProducerSendError" else exc
    return isinstance(cause, PER_RECORD)


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ if type(exc).__name__ == "ProducerSendError" and exc.__cause__ else exc
    return type(cause).__name__


class Sender:
    """One agent's (or timer's) sends, settled batch by batch."""

    def __init__(
        self,
        send: Send,
        pipeline: Pipeline,
        metrics: Metrics,
        topics: Topics,
        on_fatal: Callable[[BaseException], None] | None = None,
        limits: OutputLimits | None = None,
    ) -> None:
        self._send = send
        self.limits = limits
        self.pipeline = pipeline
        self.metrics = metrics
        self.on_fatal = on_fatal
        self._inflight: list[tuple[Incoming | None, tuple[str, int] | None, Outgoing, Any]] = []
        self._refused: set[tuple[str, int, int, bytes | None]] = set()  # inputs whose dead letter is sent
        self._dead_letters: set[int] = set()  # ids of those dead letters (alive in _inflight meanwhile)
        self._kinds = {topics.quota: "hop_record"}
        for side in SIDES:
            self._kinds[topics.verdicts(side)] = "verdict"
            self._kinds[topics.attestation_requests(side)] = "attestation_request"
            self._kinds[topics.deadletter(side)] = "dead_letter"
            self._kinds[topics.audit(side)] = "audit_entry"

    async def send(
        self, outs: list[Outgoing], rec: Incoming | None, source: tuple[str, int] | None = None
    ) -> None:
        """Hand the outputs of ``rec`` (None: of a timer, from ``source``) to the producer; a refusal at
        once is handled at once."""
        if source is None and rec is not None:
            source = rec.topic, rec.partition
        for out in outs:
            await self._one(rec, source, out, dead_letter=False)

    async def _one(
        self, rec: Incoming | None, source: tuple[str, int] | None, out: Outgoing, *, dead_letter: bool
    ) -> None:
        try:
            fut = await self._send(out, source)
        except Exception as exc:  # noqa: BLE001  classified: per record, or raised again
            await self._failed(rec, source, out, exc, dead_letter=dead_letter)
            return
        if dead_letter:
            self._dead_letters.add(id(out))
        self._inflight.append((rec, source, out, fut))

    def detach(self) -> Sender:
        """What was handed over since the last settle, as a sender of its own to settle apart (the
        agent goes on with its next batch, :mod:`crossbound.runtime.settling`); this one starts empty."""
        batch = copy.copy(self)  # the same producer, pipeline, metrics and limits
        batch._inflight, batch._refused = self._inflight, self._refused
        batch._dead_letters = self._dead_letters
        self._inflight, self._refused, self._dead_letters = [], set(), set()
        return batch

    async def settle(self) -> None:
        """Wait for every record handed over since the last call; handle what the broker refused.

        Dead letters sent for refused records are waited for too (in the same call).
        """
        while self._inflight:
            inflight, self._inflight = self._inflight, []
            for rec, source, out, fut in inflight:
                try:
                    await fut
                except Exception as exc:  # noqa: BLE001  classified: per record, or raised again
                    dead_letter = id(out) in self._dead_letters
                    await self._failed(rec, source, out, exc, dead_letter=dead_letter)
        self._refused.clear()
        self._dead_letters.clear()

    async def _failed(
        self,
        rec: Incoming | None,
        source: tuple[str, int] | None,
        out: Outgoing,
        exc: BaseException,
        *,
        dead_letter: bool,
    ) -> None:
        if not per_record(exc):
            self._fatal(exc)
        if await self._alone(out, source, exc):
            return
        kind = self._kinds.get(out.topic, "dead_letter")
        if kind == "audit_entry":  # the decision it logs stands: one outcome per input, a hole counted
            self.metrics.output_failed(kind, "refused")
            log.error("audit entry for chain %r refused (%s): not written", out.key, _reason(exc))
            return
        if rec is None and source is not None and not dead_letter:
            # a timer's verdict: the request it answers, by its input coordinates (offset unknown)
            rec = Incoming(source[0], source[1], -1, out.key, None)
        if dead_letter or rec is None:
            self.metrics.output_failed(kind, "lost")
            where = "a timer" if rec is None else f"{rec.topic}[{rec.partition}]@{rec.offset}"
            log.error("%s for %s refused (%s): nothing written for it", kind, where, _reason(exc))
            return
        self.metrics.output_failed(kind, "refused")
        coords = (rec.topic, rec.partition, rec.offset, rec.key)
        if coords in self._refused:  # one outcome per input: its dead letter is on its way already
            return
        self._refused.add(coords)
        for dl in self.pipeline.refused(rec, out, _reason(exc)):
            await self._one(rec, source, dl, dead_letter=True)

    async def _alone(self, out: Outgoing, source: tuple[str, int] | None, exc: BaseException) -> bool:
        """Send ``out`` again, alone, if the broker refused its batch as too large while ``out`` itself
        fits its topic: whether that worked. aiokafka does not split a refused batch (Java clients do),
        and a topic whose ``max.message.bytes`` is below the producer's batch size refuses batches of
        records that fit one by one."""
        too_large = isinstance(exc.__cause__ or exc, (MessageSizeTooLargeError, RecordListTooLargeError))
        if not too_large or self.limits is None:
            return False
        if record_size(out.key, out.value, out.headers) > self.limits.limit(out.topic):
            return False
        try:
            await (await self._send(out, source))  # awaited at once: nothing else joins its batch
        except Exception as again:  # noqa: BLE001  classified as the first failure
            if not per_record(again):
                self._fatal(again)
            return False
        return True

    def _fatal(self, exc: BaseException) -> NoReturn:
        log.error("the producer failed (%s): not a record's fault, stopping", _reason(exc))
        if self.on_fatal is not None:
            self.on_fatal(exc)
        raise exc
