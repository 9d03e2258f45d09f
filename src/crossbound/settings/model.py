"""One settings object, read once at the edge (the CLI) and passed down.

Environment variables use the prefix ``CROSSBOUND_``; nested groups use ``__``, for example
``CROSSBOUND_PIPELINE__ATTESTATION_TIMEOUT_S=10``, ``CROSSBOUND_METRICS__PORT=9464`` or
``CROSSBOUND_TOPICS__VERDICTS__RETENTION_MS=7776000000``. Library modules never read the environment
themselves.

Topic settings come per kind of topic (:class:`~crossbound.topics.TopicKind`) and default to what a
three-node Kafka cluster wants: replication factor 3, ``min.insync.replicas`` 2 and producers with
``acks=all``, so that a write survives the loss of one node and is refused (not silently weakened)
when two are down. A single node (a local Kafka, Tansu) lowers them with one switch:
``KafkaSettings.replication_factor`` (``--replication-factor 1``, ``CROSSBOUND_KAFKA__REPLICATION_FACTOR=1``)
or :meth:`Settings.single_node`.

TLS and SASL are :class:`~crossbound.settings.security.SecuritySettings`
(``CROSSBOUND_KAFKA__SECURITY__...``), one set for every client; the models that can hold its
password do not echo their input in validation errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.settings.security import SecuritySettings

__all__ = [
    "CleanupPolicy",
    "KafkaSettings",
    "MetricsSettings",
    "PipelineSettings",
    "Settings",
    "TopicSettings",
    "TopicsSettings",
    "parse_broker_url",
]

CleanupPolicy = Literal["delete", "compact", "compact,delete"]

_DAY_MS = 86_400_000


def parse_broker_url(url: str) -> str:
    """Turn ``kafka://host:port[,host:port]`` (or plain ``host:port[,host:port]``) into aiokafka's
    ``host:port[,host:port]``."""
    netloc = url if "://" not in url else ""
    if not netloc:
        parsed = urlparse(url)
        if parsed.scheme != "kafka" or not parsed.netloc:
            raise ValueError(f"broker must look like kafka://host:port or host:port, got {url!r}")
        netloc = parsed.netloc
    for hostport in netloc.split(","):
        host, _, port = hostport.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"broker must look like kafka://host:port or host:port, got {url!r}")
    return netloc


class KafkaSettings(BaseModel):
    """How the worker talks to Kafka."""

    # the input of a failed validation can hold the SASL password: errors do not echo it
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    broker: str | None = Field(
        default=None,
        description="a running Kafka, kafka://host:port[,host:port] or host:port; unset: start the "
        "embedded Tansu",
    )
    partitions: int = Field(default=4, ge=1, le=1024, description="partitions of every crossbound topic")
    session_timeout_s: float = Field(default=6.0, gt=0, description="consumer group session timeout")
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    producer_linger_s: float = Field(
        default=0.001,
        ge=0,
        description="how long the producer waits to fill a batch; under a backlog batches fill anyway, "
        "at a paced load every hop of an attested request waits up to this (README, Benchmarks)",
    )
    compat_tansu: bool | None = Field(
        default=None,
        description="client workarounds for Tansu (ListOffsets, fetch wait); default: on when embedded. "
        "Tansu is one node, so the worker also lowers every topic to replication factor 1 when this is "
        "on and replication_factor is not set",
    )
    replication_factor: int | None = Field(
        default=None,
        ge=1,
        le=32,
        description="override of every kind's replication factor (min.insync.replicas is lowered to at "
        "most this); 1 for a single-node Kafka; unset: the per-kind topic settings",
    )
    delivery: Literal["at_least_once", "exactly_once"] = Field(
        default="at_least_once",
        description="Faust's processing guarantee. at_least_once (the promise): a crash may repeat "
        "outputs, the answered table answers repeats idempotently. exactly_once (experimental, Kafka "
        "only: Tansu has no working transactions): outputs go out in the transaction that commits "
        "their input's offset; measured to cut duplicates after a crash, not after a rebalance",
    )
    acks: Literal["all", "1", "0"] = Field(
        default="all",
        description="producer acks: 'all' waits for min.insync.replicas copies, so an acknowledged "
        "verdict survives the loss of a node",
    )
    faust_stock: frozenset[str] = Field(
        default=frozenset(),
        description="names of the worker's Faust speed-ups (crossbound.runtime.app.FAUST_SPEEDUPS) left "
        "at Faust's own defaults, so a benchmark can measure what each buys in one run",
    )
    idempotence: bool | None = Field(
        default=None,
        description="the worker's producer is idempotent (a batch retried after a leader change is "
        "written once); default: on with acks=all except on Tansu, whose InitProducerId needs a client "
        "patch; exactly_once always uses it",
    )

    table_store: Literal["memory", "rocksdb"] = Field(
        default="memory",
        description="where the tables live: memory (rebuilt from the changelogs at every start) or "
        "rocksdb (on disk under data_dir, through rocksdict: pip install 'crossbound[rocksdb]'; a "
        "restart on the same disk reads only the changelog written since, and memory does not grow "
        "with the keys)",
    )
    data_dir: Path | None = Field(
        default=None,
        description="this worker's own directory for Faust's data, its tables with table_store=rocksdb "
        "(required then: one per worker process, on a disk that outlives it); unset with memory: "
        "<tmp>/crossbound-<app_id>-data",
    )
    security: SecuritySettings = Field(
        default_factory=SecuritySettings, description="TLS and SASL of every client"
    )

    reset_check_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="seconds between the worker's looks at whether its broker lost its state (topics "
        "gone, log ends gone back, another cluster id); it then exits with code 75 to be restarted",
    )
    max_message_bytes: int = Field(
        default=1_048_588,
        ge=1024,
        description="max.message.bytes assumed for a topic whose config the broker does not report "
        "(Tansu reports only configs set at creation); Kafka's default. The worker reads each topic's "
        "own value at start-up where the broker reports it",
    )

    @model_validator(mode="after")
    def _check_idempotence(self) -> KafkaSettings:
        if self.idempotence and self.acks != "all":
            raise ValueError(f"idempotence needs acks=all (Kafka's rule), got acks={self.acks}")
        return self

    @model_validator(mode="after")
    def _check_table_store(self) -> KafkaSettings:
        if self.table_store == "rocksdb" and self.data_dir is None:
            raise ValueError(
                "table_store=rocksdb needs data_dir (CROSSBOUND_KAFKA__DATA_DIR): a directory of this "
                "worker's own, on a disk that outlives the process"
            )
        return self

    def idempotent_producer(self, *, tansu: bool) -> bool:
        """Whether the worker's at-least-once producer is idempotent on this broker."""
        if self.idempotence is not None:
            return self.idempotence
        return self.acks == "all" and not tansu

    @field_validator("broker")
    @classmethod
    def _check_broker(cls, value: str | None) -> str | None:
        # one spelling from here on, whichever the user typed: messages and child processes show it
        return None if value is None else f"kafka://{parse_broker_url(value)}"

    @property
    def producer_acks(self) -> int:
        """Faust's ``producer_acks`` (``-1`` is all); aiokafka takes :attr:`aiokafka_acks`."""
        return -1 if self.acks == "all" else int(self.acks)

    @property
    def aiokafka_acks(self) -> int | str:
        """aiokafka's ``acks`` argument: ``"all"``, ``1`` or ``0``."""
        return "all" if self.acks == "all" else int(self.acks)

    @property
    def bootstrap_servers(self) -> str:
        """aiokafka bootstrap string; only valid when ``broker`` is set."""
        if self.broker is None:
            raise ValueError("no broker URL set")
        return parse_broker_url(self.broker)


class TopicSettings(BaseModel):
    """How topics of one kind are created and what the start-up check expects of them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    replication_factor: int = Field(
        default=3,
        ge=1,
        le=32,
        description="copies of every partition (3: one node may fail, one more "
        "may be down for maintenance without losing data)",
    )
    min_insync_replicas: int = Field(
        default=2, ge=1, le=32, description="min.insync.replicas: copies an acks=all write needs (2 of 3)"
    )
    retention_ms: int = Field(description="retention.ms, -1 keeps records forever")
    cleanup_policy: CleanupPolicy = Field(description="cleanup.policy: delete, compact or compact,delete")

    @field_validator("retention_ms")
    @classmethod
    def _check_retention(cls, value: int) -> int:
        if value != -1 and value < 1:
            raise ValueError("retention_ms must be positive, or -1 for infinite")
        return value

    @model_validator(mode="after")
    def _check_isr(self) -> TopicSettings:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"min_insync_replicas {self.min_insync_replicas} is more than replication_factor "
                f"{self.replication_factor}: no acks=all write could ever succeed"
            )
        return self

    def with_replication(self, replication_factor: int) -> TopicSettings:
        """These settings on ``replication_factor`` copies, min ISR lowered to at most that."""
        return self.model_copy(
            update={
                "replication_factor": replication_factor,
                "min_insync_replicas": min(self.min_insync_replicas, replication_factor),
            }
        )


# Per-kind defaults; a partial override (one env variable) is merged over them, field by field.
_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "inputs": {"retention_ms": 7 * _DAY_MS, "cleanup_policy": "delete"},
    "attestations": {"retention_ms": 7 * _DAY_MS, "cleanup_policy": "delete"},
    "verdicts": {"retention_ms": 90 * _DAY_MS, "cleanup_policy": "delete"},
    "deadletter": {"retention_ms": 30 * _DAY_MS, "cleanup_policy": "delete"},
    "changelog": {"retention_ms": -1, "cleanup_policy": "compact"},
    "internal": {"retention_ms": 7 * _DAY_MS, "cleanup_policy": "delete"},
    "audit": {"retention_ms": -1, "cleanup_policy": "delete"},
    "registry": {"retention_ms": -1, "cleanup_policy": "compact"},
}


def _default(kind: str) -> Any:
    return lambda: TopicSettings(**_KIND_DEFAULTS[kind])


class TopicsSettings(BaseModel):
    """Topic settings per kind of topic (see :class:`crossbound.topics.TopicKind`).

    Setting one field of a kind (``CROSSBOUND_TOPICS__CHANGELOG__REPLICATION_FACTOR=5``) keeps that
    kind's defaults for the other fields.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    inputs: TopicSettings = Field(
        default_factory=_default("inputs"),
        description="<side>.requests: 7 days, far longer than any attestation timeout plus dedupe "
        "retention, so that a worker stopped over a long weekend still finds every unread request",
    )
    attestations: TopicSettings = Field(
        default_factory=_default("attestations"),
        description="<side>.attestation-requests and <side>.attestations: 7 days, like the inputs (an "
        "attestation only matters while its request is pending)",
    )
    verdicts: TopicSettings = Field(
        default_factory=_default("verdicts"),
        description="<side>.verdicts: 90 days, so that a quarter's verdicts can be audited and "
        "reconciled from the topic itself; longer-term archiving is the consumers' job",
    )
    deadletter: TopicSettings = Field(
        default_factory=_default("deadletter"),
        description="<side>.deadletter: 30 days, a monthly review and replay window; dead letters keep "
        "the original record bytes, so they are not kept longer than needed to investigate",
    )
    changelog: TopicSettings = Field(
        default_factory=_default("changelog"),
        description="Faust table changelogs (<app>-<table>-changelog): compacted and kept forever, "
        "they are the tables' state (deleted keys leave as tombstones)",
    )
    internal: TopicSettings = Field(
        default_factory=_default("internal"),
        description="<app>.quota repartition topic: 7 days, like the inputs it is re-read after a stop",
    )
    audit: TopicSettings = Field(
        default_factory=_default("audit"),
        description="<side>.audit: kept forever and never compacted (an audit trail is kept for years, "
        "and a compacted chain would lose entries); archive it before any retention is set",
    )
    registry: TopicSettings = Field(
        default_factory=_default("registry"),
        description="<side>.fingerprints: compacted and kept forever, keyed by document digest: the "
        "latest record of every document its data sources issued (a revocation included) stays",
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for kind, value in data.items():
            if kind in _KIND_DEFAULTS and isinstance(value, dict):
                merged[kind] = {**_KIND_DEFAULTS[kind], **value}
        return merged

    def with_replication(self, replication_factor: int) -> TopicsSettings:
        """Every kind on ``replication_factor`` copies, min ISR lowered to at most that."""
        return TopicsSettings(
            **{name: getattr(self, name).with_replication(replication_factor) for name in self.kind_names()}
        )

    def for_kind(self, kind: str) -> TopicSettings:
        """The settings of one kind, by its name (a :class:`~crossbound.topics.TopicKind` value)."""
        if kind not in self.kind_names():
            raise KeyError(kind)
        value: TopicSettings = getattr(self, kind)
        return value

    @classmethod
    def kind_names(cls) -> tuple[str, ...]:
        """The kinds, in field order."""
        return tuple(cls.model_fields)


class PipelineSettings(BaseModel):
    """What the agents do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app_id: str = Field(
        default="crossbound",
        pattern=r"^[a-z][a-z0-9_.-]{0,62}$",
        description="Faust app id and consumer group",
    )
    topic_prefix: str = Field(default="", description="prefix put before every topic name (tests use it)")
    topic_layout: Literal["shared", "per_institution"] = Field(
        default="shared",
        description="shared: one topic of each kind per side; per_institution: each participant's own "
        "<side>.<key>.<kind> topics, which prefixed ACLs can isolate (see README, Security)",
    )
    participants: Path | None = Field(
        default=None,
        description="participant registry file (TOML, see README Security); read and checked at "
        "start-up when set",
    )
    signing_key_hk: Path | None = Field(
        default=None,
        description="the worker's private key (PEM) for HK's verdicts and attestation requests, one of "
        "the registry's [[platform]] keys for HK; required with participants, never in the repository",
    )
    signing_key_sz: Path | None = Field(
        default=None, description="the same for SZ (CROSSBOUND_PIPELINE__SIGNING_KEY_SZ)"
    )
    schemas_dir: Path = Field(
        default_factory=default_schemas_dir, description="schemas directory; default: the shipped one"
    )
    rulesets_dir: Path = Field(
        default_factory=default_rulesets_dir, description="rule-set directory; default: the shipped one"
    )
    attestation_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="seconds a request waits for its attestation: the default, and the upper bound of "
        "a scenario's own attestation_timeout_s",
    )
    sweep_interval_s: float = Field(default=1.0, gt=0, description="how often pending requests are checked")
    dedupe_retention_s: float = Field(
        default=3_600.0,
        gt=0,
        description="answered request ids are remembered until the request's expires_at plus this; a "
        "quota_usage key with no current window is swept this long after its last write",
    )
    max_record_bytes: int = Field(default=1_000_000, ge=1024)
    clock_skew_s: float = Field(default=300.0, ge=0, description="tolerated future created_at (rule C6)")
    batch_size: int = Field(default=1000, ge=1, description="events taken from the stream at once")

    @property
    def signatures_required(self) -> bool:
        """Whether inputs must be signed and outputs are: exactly when a participant registry is set
        (without one there is nobody to check a signature against, so none is asked for)."""
        return self.participants is not None

    batch_within_s: float = Field(
        default=0.002,
        gt=0,
        description="how long an agent waits for a batch to fill: each of an attested request's two "
        "passes through the worker waits up to this at a paced load (README, Benchmarks)",
    )
    settle_ahead: int = Field(
        default=4,
        ge=0,
        le=64,
        description="batches an agent may have awaiting their outputs while it takes the next ones "
        "(their events are acknowledged once settled, at-least-once as before); 0: each batch is "
        "settled before the next is taken. Audited streams and exactly_once always settle each batch "
        "first (README, What sets the latency floor on Kafka)",
    )


class AuditSettings(BaseModel):
    """The tamper-evident audit (README, Audit): entries per decision, signed checkpoints."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=False,
        description="log every decision to <side>.audit, hash-chained, with signed checkpoints; needs "
        "the participant registry; the checkpoints are signed with the worker's platform keys "
        "(pipeline.signing_key_hk/_sz)",
    )
    checkpoint_interval_s: float = Field(
        default=60.0, gt=0, description="how often each side's chain heads are signed and anchored"
    )


class MetricsSettings(BaseModel):
    """Where Prometheus metrics are served."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="serve /metrics, /healthz and /readyz")
    host: str = Field(default="127.0.0.1", description="address the metrics server binds to")
    port: int = Field(
        default=9464, ge=0, le=65535, description="port of the metrics server; 0 picks a free one"
    )


class Settings(BaseSettings):
    """Everything crossbound can be told, from flags, environment or defaults."""

    model_config = SettingsConfigDict(
        env_prefix="CROSSBOUND_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        hide_input_in_errors=True,  # the whole input, with the SASL password, would be shown
    )

    tansu_bin: Path | None = Field(default=None, description="explicit Tansu binary (CROSSBOUND_TANSU_BIN)")
    kafka_libs: Path | None = Field(
        default=None,
        description="directory of Apache Kafka 4.x jars (CROSSBOUND_KAFKA_LIBS); default: the cache "
        "that `make kafka` fills",
    )
    log_level: str = Field(
        default="WARNING", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="the worker's log level"
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    topics: TopicsSettings = Field(default_factory=TopicsSettings)

    @model_validator(mode="after")
    def _check_retention_covers_pipeline(self) -> Settings:
        # A request must outlive its attestation wait and its dedupe window on the topic, or a worker
        # that restarts inside that window cannot re-read what it still has state for.
        floor_ms = int((self.pipeline.attestation_timeout_s + self.pipeline.dedupe_retention_s) * 1000)
        for kind in ("inputs", "attestations", "internal"):
            retention = self.topics.for_kind(kind).retention_ms
            if retention != -1 and retention <= floor_ms:
                raise ValueError(
                    f"topics.{kind}.retention_ms {retention} must exceed the attestation timeout plus the "
                    f"dedupe retention ({floor_ms} ms)"
                )
        return self

    def single_node(self) -> Settings:
        """These settings for a single-node broker: replication factor 1 (and min ISR 1) everywhere."""
        return self.model_copy(update={"kafka": self.kafka.model_copy(update={"replication_factor": 1})})

    def topic_settings(self) -> TopicsSettings:
        """The per-kind topic settings with ``kafka.replication_factor`` applied, if set."""
        rf = self.kafka.replication_factor
        return self.topics if rf is None else self.topics.with_replication(rf)

    def as_dict(self) -> dict[str, Any]:
        """A loggable view of the settings: the SASL password shows as ``**********`` (pydantic's
        ``SecretStr`` dumps masked), never in clear."""
        return self.model_dump(mode="json")
