"""The worker's side of the audit: one entry per decision, on the audit topic of the decision's side.

:meth:`Auditor.entries` takes what the pipeline returned for one input (or a timer's outputs) and
gives the audit records to produce after them: one entry per verdict, dead letter and attestation
request, linked into the chain of its side, stream and partition (:mod:`~crossbound.audit.chains`),
keyed by the chain's name. An audit entry never changes an input's outcome: the decision is already
made when it is logged. An entry over its topic's size budget (:class:`~crossbound.pipeline.budget.
OutputLimits`; it holds no value, so only a decision with thousands of findings could be) is not
linked nor written, counted in ``crossbound_outputs_failed_total{record="audit_entry"}`` and logged:
a hole the chain does not show, which the metric alerts on. One the broker refuses
(:mod:`crossbound.runtime.sending`) was linked: the verifier reports it missing, as it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable

from crossbound.audit.chains import Chains, Head, Writer
from crossbound.audit.entry import canonical
from crossbound.audit.facts import Facts
from crossbound.codec import Codec
from crossbound.metrics import Metrics
from crossbound.pipeline import Incoming, Outgoing
from crossbound.pipeline.budget import OutputLimits, record_size
from crossbound.topics import Topics

__all__ = ["Auditor", "encode"]

log = logging.getLogger(__name__)


def encode(obj: dict[str, object]) -> bytes:
    """A checkpoint's value: its JSON, sorted keys, compact, ASCII. (An entry's value is its canonical
    form with its digest appended, :meth:`Auditor.entries`: one serialisation per entry.)"""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


class Auditor:
    """Builds the audit entries of one worker's decisions."""

    def __init__(
        self,
        codec: Codec,
        topics: Topics,
        chains: Chains,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        limits: OutputLimits | None = None,
    ) -> None:
        self.facts = Facts(codec, topics)
        self.topics = topics
        self.chains = chains
        self.metrics = metrics
        self.clock = clock
        self.limits = limits

    def entries(
        self,
        writer: Writer,
        outs: Iterable[Outgoing],
        rec: Incoming | None,
        source: tuple[str, int, int],
        input_headers: Iterable[tuple[str, bytes]] = (),
    ) -> list[Outgoing]:
        """The audit records of ``outs``, the outputs of ``rec`` (None: a timer's) read at ``source``
        (topic, partition, offset; -1 for a timer): linked on ``writer``'s chains of that partition."""
        audited: list[Outgoing] = []
        headers = tuple(input_headers)
        for out in outs:
            side = self.facts.side_of(out)
            if side is None:
                continue
            body = self.facts.body(out, rec, source, headers)
            chain, seq, prev = writer.link(side, source[1])
            body.update(chain=chain, seq=seq, prev=prev, at_ms=int(self.clock() * 1000))
            data = canonical(body)
            digest = hashlib.sha256(data).hexdigest()
            value = b'%s,"digest":"%s"}' % (data[:-1], digest.encode())  # the canonical form + digest
            key = chain.encode()
            topic = self.topics.audit(side)
            if not self._fits(topic, key, value):  # not linked: a refused entry leaves no broken link
                continue
            writer.advance(chain, source[1], Head(seq, digest))
            audited.append(Outgoing(topic, key, value))
            self.metrics.audited(side, "entry")
        return audited

    def _fits(self, topic: str, key: bytes, value: bytes) -> bool:
        if self.limits is None:
            return True
        size, limit = record_size(key, value), self.limits.limit(topic)
        if size <= limit:
            return True
        self.metrics.output_failed("audit_entry", "too_large")
        log.error("audit entry of %d bytes not written: over the %d-byte limit of %r", size, limit, topic)
        return False
