"""One settings object, read once at the edge (the CLI) and passed down.

Environment variables use the prefix ``CROSSBOUND_``; nested groups use ``__``, for example
``CROSSBOUND_PIPELINE__ATTESTATION_TIMEOUT_S=10`` or ``CROSSBOUND_METRICS__PORT=9464``. Library modules
never read the environment themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crossbound.paths import default_rulesets_dir, default_schemas_dir

__all__ = ["KafkaSettings", "MetricsSettings", "PipelineSettings", "Settings", "parse_broker_url"]


def parse_broker_url(url: str) -> str:
    """Turn ``kafka://host:port[,host:port]`` into aiokafka's ``host:port[,host:port]``."""
    parsed = urlparse(url)
    if parsed.scheme != "kafka" or not parsed.netloc:
        raise ValueError(f"broker URL must look like kafka://host:port, got {url!r}")
    for hostport in parsed.netloc.split(","):
        host, _, port = hostport.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"broker URL must look like kafka://host:port, got {url!r}")
    return parsed.netloc


class KafkaSettings(BaseModel):
    """How the worker talks to Kafka."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    broker: str | None = Field(
        default=None, description="kafka://host:port of a running Kafka; unset starts the embedded Tansu"
    )
    partitions: int = Field(default=4, ge=1, le=1024, description="partitions of every crossbound topic")
    session_timeout_s: float = Field(default=6.0, gt=0, description="consumer group session timeout")
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    producer_linger_s: float = Field(default=0.005, ge=0)
    compat_tansu: bool | None = Field(
        default=None,
        description="client workarounds for Tansu (ListOffsets, fetch wait); default: on when embedded",
    )

    @field_validator("broker")
    @classmethod
    def _check_broker(cls, value: str | None) -> str | None:
        if value is not None:
            parse_broker_url(value)
        return value

    @property
    def bootstrap_servers(self) -> str:
        """aiokafka bootstrap string; only valid when ``broker`` is set."""
        if self.broker is None:
            raise ValueError("no broker URL set")
        return parse_broker_url(self.broker)


class PipelineSettings(BaseModel):
    """What the agents do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app_id: str = Field(default="crossbound", pattern=r"^[a-z][a-z0-9_.-]{0,62}$")
    topic_prefix: str = Field(default="", description="prefix put before every topic name (tests use it)")
    schemas_dir: Path = Field(default_factory=default_schemas_dir)
    rulesets_dir: Path = Field(default_factory=default_rulesets_dir)
    attestation_timeout_s: float = Field(default=30.0, gt=0)
    sweep_interval_s: float = Field(default=1.0, gt=0, description="how often pending requests are checked")
    dedupe_retention_s: float = Field(
        default=3_600.0,
        gt=0,
        description="answered request ids are remembered until the request's expires_at plus this",
    )
    max_record_bytes: int = Field(default=1_000_000, ge=1024)
    clock_skew_s: float = Field(default=300.0, ge=0, description="tolerated future created_at (rule C6)")
    batch_size: int = Field(default=1000, ge=1, description="events taken from the stream at once")
    batch_within_s: float = Field(default=0.01, gt=0)


class MetricsSettings(BaseModel):
    """Where Prometheus metrics are served."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535, description="0 picks a free port")


class Settings(BaseSettings):
    """Everything crossbound can be told, from flags, environment or defaults."""

    model_config = SettingsConfigDict(
        env_prefix="CROSSBOUND_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    tansu_bin: Path | None = Field(default=None, description="explicit Tansu binary (CROSSBOUND_TANSU_BIN)")
    kafka_libs: Path | None = Field(
        default=None,
        description="directory of Apache Kafka 4.x jars (CROSSBOUND_KAFKA_LIBS); default: the cache "
        "that `make kafka` fills",
    )
    log_level: str = Field(default="WARNING", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    def as_dict(self) -> dict[str, Any]:
        """A loggable view of the settings (no secrets are held today; kept masked-by-design)."""
        return self.model_dump(mode="json")
