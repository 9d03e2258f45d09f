"""Run the pipeline's logic without a broker, for integrators' tests and ours.

``Harness`` drives the same :class:`~crossbound.pipeline.Pipeline` as the worker, over plain dicts for
its Faust tables and a clock of its own: the pipeline routes, applies its error policy, follows its
internal hop records and runs its timers; the harness only feeds it and collects everything published
to the public topics, decoded::

    h = Harness.from_dirs()                          # the shipped schemas and rule sets
    h.send_request(request_json)                     # JSON form, as in `crossbound check`
    h.send_attestation(attestation_json)
    h.send_fingerprint(fingerprint_json)             # a data source's registry record
    h.advance(31)                                    # move the clock: attestation timeouts fire
    [v] = h.verdicts("hk")

The clock is the harness's own (``h.now``), so timeouts and freshness are deterministic.

With ``participants`` (a registry) and ``signers`` (the worker's platform signer per side) the
pipeline checks signatures and signs its outputs as the worker does; ``keyring`` signs what
``send_request``, ``send_attestation`` and ``send_fingerprint`` publish, as the institutions named in
them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.codec import Codec, SchemaRegistry
from crossbound.metrics import Metrics
from crossbound.participants import Registry
from crossbound.pipeline import Incoming, Outgoing, Pipeline, Tables
from crossbound.pipeline.budget import OutputLimits
from crossbound.rules import Catalogue, load_catalogue
from crossbound.signing import Signer
from crossbound.testing.encoding import Keyring, encode_attestation, encode_fingerprint, encode_request
from crossbound.topics import Topics

if TYPE_CHECKING:  # the recording module imports a Kafka client; the harness needs none
    from crossbound.testing.recording import Recorded

__all__ = ["Harness", "Published"]


@dataclass(frozen=True, slots=True)
class Published:
    """A record the pipeline published, with its decoded value."""

    topic: str
    key: bytes | None
    value: bytes
    record: dict[str, Any]
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int | None = None  # as the pipeline chose it (None: the producer's partitioner picks)


@dataclass
class Harness:
    """The pipeline with in-memory state and a controllable clock."""

    codec: Codec
    catalogue: Catalogue
    now: float = 1_790_000_000.0
    attestation_timeout_s: float = 30.0
    topics: Topics = field(default_factory=Topics)
    partitions: int | None = None  # check inputs against murmur2 over this many partitions (None: don't)
    limits: OutputLimits | None = None  # the topics' size budgets, as a worker reads them (None: none)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    participants: Registry | None = None  # with it, signatures are checked and made (see above)
    signers: Mapping[str, Signer] = field(default_factory=dict)
    keyring: Keyring | None = None
    pending: dict[bytes, bytes] = field(default_factory=dict)
    answered: dict[bytes, bytes] = field(default_factory=dict)
    usage: dict[bytes, bytes] = field(default_factory=dict)
    fingerprints: dict[bytes, bytes] = field(default_factory=dict)
    published: list[Published] = field(default_factory=list)
    internal: list[Outgoing] = field(default_factory=list)  # records on the internal hop topic
    _offsets: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.registry)
        self.restart()

    def restart(self) -> None:
        """A new worker process over the same tables (as after a crash and changelog recovery)."""
        self.pipeline = Pipeline(
            self.codec,
            self.catalogue,
            self.metrics,
            self.topics,
            Tables(self.pending, self.answered, self.usage, self.fingerprints),
            attestation_timeout_s=self.attestation_timeout_s,
            partitions=self.partitions,
            clock=lambda: self.now,
            limits=self.limits,
            participants=self.participants,
            signers=self.signers,
        )

    @classmethod
    def from_dirs(cls, schemas: Path | None = None, rulesets: Path | None = None, **kwargs: Any) -> Harness:
        """A harness over schema and rule-set directories (default: the shipped ones)."""
        registry = SchemaRegistry.load(schemas or default_schemas_dir())
        codec = Codec(registry)
        return cls(codec, load_catalogue(rulesets or default_rulesets_dir(), registry), **kwargs)

    # -- input ----------------------------------------------------------------------------------

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int = 0,
        timestamp_ms: int | None = None,
        headers: tuple[tuple[str, bytes], ...] = (),
    ) -> list[Published]:
        """Feed one raw record, as the worker's main agent would receive it; returns what it published.

        ``timestamp_ms`` is its Kafka timestamp, as a producer set it (default: the harness's clock).
        """
        ts = int(self.now * 1000) if timestamp_ms is None else timestamp_ms
        rec = Incoming(topic, partition, self._next_offset(topic), key, value, ts, headers)
        return self._route(self.pipeline.handle(rec))

    def encode_request(self, request: Mapping[str, Any]) -> tuple[bytes, bytes]:
        """Key and value of a request given in JSON form."""
        _, key, value = encode_request(request, self.codec, self.catalogue, self.topics)
        return key, value

    def send_request(self, request: Mapping[str, Any], side: str | None = None) -> list[Published]:
        """Publish a request (JSON form) on its requester side's requests topic."""
        topic, key, value = encode_request(request, self.codec, self.catalogue, self.topics)
        return self.send(
            self.topics.requests(side) if side else topic, key, value, headers=self._sign(key, value)
        )

    def send_attestation(self, attestation: Mapping[str, Any], side: str | None = None) -> list[Published]:
        """Publish an attestation (JSON form) on its attester side's attestations topic."""
        topic, key, value = encode_attestation(attestation, self.codec, self.catalogue, self.topics)
        topic = self.topics.attestations(side) if side else topic
        return self.send(topic, key, value, headers=self._sign(key, value))

    def _sign(self, key: bytes, value: bytes) -> tuple[tuple[str, bytes], ...]:
        """The keyring's signature of a record, at the harness's time (none without a keyring)."""
        if self.keyring is None:
            return ()
        return self.keyring.headers(self.codec, key, value, int(self.now * 1000))

    def send_fingerprint(self, fingerprint: Mapping[str, Any]) -> list[Published]:
        """Publish a document fingerprint (JSON form) on its issuer's registry topic."""
        topic, key, value = encode_fingerprint(fingerprint, self.codec, self.topics)
        return self.send(topic, key, value, headers=self._sign(key, value))

    def replay(
        self, records: Iterable[Recorded], *, rename: Callable[[str], str] | None = None
    ) -> list[Published]:
        """Feed a recording (:mod:`crossbound.testing.recording`) in timestamp order, with its coordinates.

        The harness clock follows the records' timestamps, and timeouts fire as it passes them, so a
        recorded day replays the same way every time. ``rename`` maps recorded topic names onto this
        harness's (for a recording made under a topic prefix).
        """
        out: list[Published] = []
        for rec in sorted(records, key=lambda r: (r.timestamp_ms or 0, r.topic, r.partition, r.offset)):
            if rec.timestamp_ms is not None and rec.timestamp_ms / 1000 > self.now:
                out += self.advance(rec.timestamp_ms / 1000 - self.now)
            topic = rename(rec.topic) if rename else rec.topic
            incoming = Incoming(
                topic, rec.partition, rec.offset, rec.key, rec.value, rec.timestamp_ms, rec.headers
            )
            out += self._route(self.pipeline.handle(incoming))
        return out

    def advance(self, seconds: float) -> list[Published]:
        """Move the clock forward and run the worker's timers: timeouts fire, answered ids are forgotten."""
        self.now += seconds
        outs = self.pipeline.sweep()
        self.pipeline.housekeeping()
        return self._route(outs)

    # -- routing --------------------------------------------------------------------------------

    def next_offset(self, topic: str) -> int:
        """The offset the next record sent on ``topic`` gets."""
        return self._offsets.get(topic, 0)

    def _next_offset(self, topic: str) -> int:
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        return offset

    def _deliver(self, out: Outgoing) -> Incoming:
        """A hop record as its consumer receives it: the next offset of its topic, at the harness's time."""
        offset = self._next_offset(out.topic)
        return Incoming(out.topic, out.partition or 0, offset, out.key, out.value, int(self.now * 1000))

    def _route(self, outs: list[Outgoing]) -> list[Published]:
        published: list[Published] = []
        quota = self.topics.quota
        for out in self.pipeline.loop(outs, self._deliver):
            if out.topic == quota:
                self.internal.append(out)
            else:
                record = self.codec.decode(out.value)[1]
                item = Published(out.topic, out.key, out.value, record, out.headers, out.partition)
                self.published.append(item)
                published.append(item)
        return published

    # -- output ---------------------------------------------------------------------------------

    def on(self, topic: str) -> list[dict[str, Any]]:
        """Decoded records published to ``topic`` so far."""
        return [p.record for p in self.published if p.topic == topic]

    def verdicts(self, side: str) -> list[dict[str, Any]]:
        """Verdicts published for ``side``'s requests."""
        return self.on(self.topics.verdicts(side))

    def dead_letters(self, side: str) -> list[dict[str, Any]]:
        """Dead letters kept on ``side``."""
        return self.on(self.topics.deadletter(side))

    def attestation_requests(self, side: str) -> list[dict[str, Any]]:
        """Attestation requests sent to ``side``."""
        return self.on(self.topics.attestation_requests(side))
