"""What a topic should look like, and the comparison with what a broker reports: no I/O here.

:func:`topic_specs` turns the per-kind settings into one :class:`TopicSpec` per topic; :func:`mismatches`
compares them with :class:`ObservedTopic` values (built by ``crossbound.broker.admin`` from a Metadata
and a DescribeConfigs response) and returns one sentence per difference, such as
``topic 'hk.verdicts': replication factor 1, settings want 3``.

What is checked:

* the partition count;
* the replication factor, as the number of replicas of every partition;
* ``min.insync.replicas``, ``retention.ms`` and ``cleanup.policy``, when the broker reports them.

Apache Kafka reports every topic config, defaults included, so all three are always checked there. Tansu
0.6 reports only the configs set explicitly when the topic was created (and accepts any replication
factor, reporting as many replicas as were asked for): a config it does not report is not checked, so a
topic created on Tansu without configs passes, while one created with other values fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from crossbound.settings import TopicSettings, TopicsSettings
from crossbound.topics import REPLICATED_TABLES, Topics

__all__ = ["CHECKED_CONFIGS", "ObservedTopic", "TopicSpec", "mismatches", "topic_configs", "topic_specs"]

MIN_INSYNC_REPLICAS = "min.insync.replicas"
RETENTION_MS = "retention.ms"
CLEANUP_POLICY = "cleanup.policy"
CHECKED_CONFIGS = (MIN_INSYNC_REPLICAS, RETENTION_MS, CLEANUP_POLICY)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How one topic is created: partitions, replication factor and topic configs (string values)."""

    partitions: int
    replication_factor: int = 1
    configs: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"partition count must be >= 1, got {self.partitions}")
        if self.replication_factor < 1:
            raise ValueError(f"replication factor must be >= 1, got {self.replication_factor}")


@dataclass(frozen=True, slots=True)
class ObservedTopic:
    """A topic as the broker describes it."""

    replicas: tuple[int, ...]
    """Replica count of each partition, in partition order."""
    configs: Mapping[str, str]
    """Topic configs as DescribeConfigs reported them (on Tansu only those set explicitly)."""

    @property
    def partitions(self) -> int:
        """The partition count."""
        return len(self.replicas)


def topic_configs(settings: TopicSettings) -> dict[str, str]:
    """The topic configs one kind's settings stand for, as CreateTopics takes them."""
    return {
        MIN_INSYNC_REPLICAS: str(settings.min_insync_replicas),
        RETENTION_MS: str(settings.retention_ms),
        CLEANUP_POLICY: settings.cleanup_policy,
    }


def topic_specs(topics: Topics, settings: TopicsSettings, partitions: int) -> dict[str, TopicSpec]:
    """Every topic of ``topics`` (changelogs included) with the settings of its kind; a global table's
    changelog has one partition."""
    specs = {}
    single = {topics.changelog(t) for t in REPLICATED_TABLES}
    for name, kind in topics.kinds().items():
        kind_settings = settings.for_kind(kind.value)
        n = 1 if name in single else partitions
        specs[name] = TopicSpec(n, kind_settings.replication_factor, topic_configs(kind_settings))
    return specs


def _normalised(key: str, value: str) -> str:
    value = value.strip()
    if key == CLEANUP_POLICY:  # a list: "delete,compact" is "compact,delete"
        return ",".join(sorted(part.strip() for part in value.split(",") if part.strip()))
    try:
        return str(int(value))
    except ValueError:
        return value


def _replication(replicas: tuple[int, ...]) -> str:
    low, high = min(replicas), max(replicas)
    return str(low) if low == high else f"{low} to {high} (differs by partition)"


def compare(name: str, spec: TopicSpec, observed: ObservedTopic | None) -> list[str]:
    """The differences between one topic's spec and what the broker reports, one sentence each."""
    where = f"topic {name!r}"
    if observed is None:
        return [f"{where}: does not exist"]
    problems = []
    if observed.partitions != spec.partitions:
        problems.append(f"{where}: {observed.partitions} partitions, settings want {spec.partitions}")
    if observed.replicas and set(observed.replicas) != {spec.replication_factor}:
        problems.append(
            f"{where}: replication factor {_replication(observed.replicas)}, "
            f"settings want {spec.replication_factor}"
        )
    for key, want in spec.configs.items():
        got = observed.configs.get(key)
        if got is None:  # not reported (Tansu reports only explicit configs): cannot tell, not checked
            continue
        if _normalised(key, got) != _normalised(key, want):
            problems.append(f"{where}: {key} {got}, settings want {want}")
    return problems


def mismatches(specs: Mapping[str, TopicSpec], observed: Mapping[str, ObservedTopic]) -> list[str]:
    """Every difference between ``specs`` and the ``observed`` topics, in topic name order."""
    return [problem for name in sorted(specs) for problem in compare(name, specs[name], observed.get(name))]
