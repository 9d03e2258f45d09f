"""The audit in the worker: entries beside each batch's outputs, heads persisted once they are
acknowledged, signed checkpoints on a timer and at shutdown (see :mod:`crossbound.audit`).

With ``audit.enabled`` each agent (``validate``: stream ``in``, ``quota``: stream ``hop``) and the
sweeper timer (``timer``) append the entries of their outputs to their own chains and hand them to
the producer with the outputs, in the same :class:`~crossbound.runtime.sending.Sender` batch (so in
the same transaction under ``exactly_once``); once the batch is settled the chains' heads are written
to the ``audit_heads`` table, before the batch's offsets can be committed. Every
``audit.checkpoint_interval_s`` and when the worker stops, each side's persisted heads are signed with
that side's platform key and written to the other side's audit topic, then, once acknowledged, to
the side's own.

Under ``exactly_once`` the entries, the heads' changelog records and the offsets commit together or
not at all: an aborted transaction's entries are invisible to a ``read_committed`` export (``audit
export`` reads so), and the next owner goes on from the committed head; the log has no fork and no
duplicate, and ``audit verify --strict`` accepts none. Checkpoints are sent outside transactions
(they name only heads already persisted).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

from crossbound.audit import Auditor, Chains, encode, make_checkpoint
from crossbound.codec import Codec
from crossbound.domain import Side
from crossbound.errors import ConfigError
from crossbound.metrics import Metrics
from crossbound.participants import Registry
from crossbound.pipeline import Incoming, Outgoing
from crossbound.pipeline.budget import OutputLimits
from crossbound.settings import Settings
from crossbound.signing import Signer
from crossbound.topics import Topics

__all__ = ["WorkerAudit", "audit_signers"]

log = logging.getLogger(__name__)

Produce = Callable[[Outgoing], Awaitable[Any]]
"""Send one record and wait for the broker's acknowledgement."""


def audit_signers(
    settings: Settings, registry: Registry | None, platform: Mapping[str, Signer]
) -> dict[Side, Signer]:
    """The checkpoint signers of both sides (empty when the audit is off): the worker's platform
    signers (``pipeline.signing_key_hk``/``_sz``, which sign its verdicts too); ConfigError when the
    audit is on without the registry whose ``[[platform]]`` keys verify the checkpoints."""
    if not settings.audit.enabled:
        return {}
    if registry is None:
        raise ConfigError(
            "audit.enabled needs the participant registry (CROSSBOUND_PIPELINE__PARTICIPANTS): its "
            "[[platform]] keys verify the checkpoints"
        )
    missing = [side for side in Side if side.topic not in platform]
    if missing:
        raise ConfigError(
            f"audit.enabled needs the worker's platform keys: pipeline.signing_key_{missing[0].topic} "
            f"(CROSSBOUND_PIPELINE__SIGNING_KEY_{missing[0].value})"
        )
    return {side: platform[side.topic] for side in Side}


def _pairs(
    headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None,
) -> tuple[tuple[str, bytes], ...]:
    if headers is None:
        return ()
    if isinstance(headers, Mapping):
        return tuple(headers.items())
    return tuple(headers)


class WorkerAudit:
    """One worker's audit: its chains over the ``audit_heads`` table, a writer per stream."""

    def __init__(
        self,
        codec: Codec,
        topics: Topics,
        heads: MutableMapping[bytes, bytes],
        partitions: int,
        signers: Mapping[Side, Signer],
        metrics: Metrics,
        limits: OutputLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.chains = Chains(heads, partitions)
        self.auditor = Auditor(codec, topics, self.chains, metrics, clock, limits)
        self.topics = topics
        self.signers = signers
        self.metrics = metrics
        self.clock = clock
        self.writers = {stream: self.chains.writer(stream) for stream in ("in", "hop", "timer")}

    def of_input(self, stream: str, outs: list[Outgoing], rec: Incoming, headers: Any) -> list[Outgoing]:
        """``outs`` followed by their audit entries (``headers``: the input's, as the consumer gave them)."""
        source = (rec.topic, rec.partition, rec.offset)
        return outs + self.auditor.entries(self.writers[stream], outs, rec, source, _pairs(headers))

    def of_timer(self, out: Outgoing, topic: str, partition: int) -> list[Outgoing]:
        """A timer's output followed by its audit entry (its request's input topic and partition)."""
        return [out, *self.auditor.entries(self.writers["timer"], [out], None, (topic, partition, -1))]

    def persist(self, stream: str) -> None:
        """The stream's batch is acknowledged: its chains' heads go to the table."""
        self.writers[stream].persist()

    def revoke(self, partitions: Iterable[int]) -> None:
        """Partitions this worker no longer owns: their heads are read from the table if they return."""
        gone = set(partitions)
        for writer in self.writers.values():
            writer.revoke(gone)

    async def checkpoint(self, produce: Produce) -> None:
        """Sign each side's persisted heads; the anchor on the other side first, then the original."""
        at_ms = int(self.clock() * 1000)
        for side, signer in self.signers.items():
            heads = {c: h for c, h in self.chains.persisted.items() if c.startswith(f"{side.topic}.")}
            if not heads:
                continue
            value = encode(make_checkpoint(signer, side, heads, at_ms))
            key = f"checkpoint.{side.topic}".encode()
            other = Side.SZ if side is Side.HK else Side.HK
            await produce(Outgoing(self.topics.audit(other.topic), key, value))
            self.metrics.audited(other.topic, "anchor")
            await produce(Outgoing(self.topics.audit(side.topic), key, value))
            self.metrics.audited(side.topic, "checkpoint")
