"""Topic administration that works on Tansu 0.6.0 and on a real Kafka.

Topics are created explicitly (never by producer auto-create: on Tansu an auto-created topic gets 4
partitions and is forgotten by ``list_topics`` after a broker restart, as measured on Tansu 0.6.0).
Tansu answers a duplicate CreateTopics with error code 36 (TOPIC_ALREADY_EXISTS) inside the
response and aiokafka does not raise, so the response is inspected; afterwards the partition counts
are verified with a Metadata request for all topics (which, unlike a per-topic Metadata request,
cannot auto-create a missing topic).

:func:`check_topics` compares existing topics with their :class:`~crossbound.broker.topicspec.TopicSpec`
(partitions, replicas per partition, and the configs DescribeConfigs reports; see
``crossbound.broker.topicspec`` for what Tansu reports). DescribeConfigs asks for all of a topic's
configs: Tansu 0.6 drops the connection when the request names config keys.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, for_code

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.broker.session import round_trip, started_admin
from crossbound.broker.topicspec import ObservedTopic, TopicSpec, mismatches
from crossbound.errors import BrokerError, ConfigError

__all__ = [
    "MAX_MESSAGE_BYTES",
    "check_topics",
    "ensure_topics",
    "message_limits",
    "partition_counts",
    "prepare_topics",
    "wait_for_broker",
]

MAX_MESSAGE_BYTES = "max.message.bytes"

_NO_ERROR = 0
_TOPIC_ALREADY_EXISTS = 36
_SINGLE_NODE_HINT = (
    " (fewer brokers than the replication factor; a single node needs --replication-factor 1 or "
    "CROSSBOUND_KAFKA__REPLICATION_FACTOR=1)"
)


async def partition_counts(
    bootstrap: str, timeout_s: float = 15.0, *, security: ClientSecurity = PLAINTEXT
) -> dict[str, int]:
    """Partition count of every topic on the broker (one Metadata request for all topics)."""
    async with round_trip("listing the topics", bootstrap, timeout_s, security, started_admin) as admin:
        return _partition_counts(await admin.describe_topics())


async def wait_for_broker(
    bootstrap: str, timeout_s: float = 10.0, *, security: ClientSecurity = PLAINTEXT
) -> None:
    """Wait until a Kafka Metadata round trip to ``bootstrap`` succeeds; BrokerError on timeout."""
    deadline = time.monotonic() + timeout_s
    last: str = "no attempt made"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrokerError(f"no Kafka broker answered at {bootstrap} within {timeout_s:g} s ({last})")
        try:
            async with asyncio.timeout(remaining):
                admin = await started_admin(bootstrap, remaining, security)
                try:
                    await admin.describe_cluster()
                finally:
                    await admin.close()
            return
        except TimeoutError:
            last = "timed out"
        except (KafkaError, OSError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _create_errors(response: Any, wanted: Mapping[str, object]) -> list[str]:
    """Problems reported inside a CreateTopics response, ignoring TOPIC_ALREADY_EXISTS; topics with
    the same error are named together."""
    by_error: dict[str, list[str]] = {}
    for entry in response.to_object().get("topic_errors", []):
        code = entry["error_code"]
        if code in (_NO_ERROR, _TOPIC_ALREADY_EXISTS) or entry["topic"] not in wanted:
            continue
        message = entry.get("error_message") or ""
        error = f"{for_code(code).__name__} (code {code}) {message}".rstrip()
        by_error.setdefault(error, []).append(repr(entry["topic"]))
    return [f"{', '.join(names)}: {error}" for error, names in by_error.items()]


def _partition_counts(described: list[dict[str, Any]]) -> dict[str, int]:
    return {
        topic["topic"]: len(topic["partitions"]) for topic in described if topic.get("error_code", 0) == 0
    }


def _as_specs(topics: Mapping[str, int | TopicSpec]) -> dict[str, TopicSpec]:
    specs = {}
    for name, spec in topics.items():
        if not name:
            raise ValueError("topic name must not be empty")
        try:
            specs[name] = spec if isinstance(spec, TopicSpec) else TopicSpec(spec)
        except ValueError as exc:
            raise ValueError(f"topic {name!r}: {exc}") from None
    return specs


async def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, int | TopicSpec],
    *,
    timeout_s: float = 15,
    security: ClientSecurity = PLAINTEXT,
) -> None:
    """Create ``topics`` unless they exist: name -> :class:`TopicSpec`, or a partition count alone
    (replication factor 1, the broker's default configs).

    Raises :class:`BrokerError` if the broker cannot be reached, rejects a topic, or a topic exists
    with a partition count other than the one requested (partitions cannot be changed on Tansu).
    Replication factor and configs of existing topics are checked by :func:`check_topics`.
    """
    if not topics:
        return
    specs = _as_specs(topics)
    not_visible: list[str] = []

    def detail() -> str:
        return f" (not in metadata: {sorted(not_visible)})" if not_visible else ""

    what = f"creating topics {sorted(topics)}"
    async with round_trip(what, bootstrap, timeout_s, security, started_admin, detail=detail) as admin:
        await _ensure(admin, specs, not_visible)


async def _ensure(admin: AIOKafkaAdminClient, specs: Mapping[str, TopicSpec], not_visible: list[str]) -> None:
    response = await admin.create_topics(
        [
            NewTopic(
                name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                topic_configs=dict(spec.configs) or None,
            )
            for name, spec in specs.items()
        ]
    )
    problems = _create_errors(response, specs)
    if problems:
        message = "cannot create topic(s): " + "; ".join(problems)
        if "InvalidReplicationFactor" in message:
            message += _SINGLE_NODE_HINT
        raise BrokerError(message)

    # Verify; a just-created topic may take a moment to show up in metadata, and on Kafka a moment more
    # until every partition has a leader (before that a producer gets NotLeaderForPartition and retries).
    delay = 0.02
    while True:
        described = await admin.describe_topics()
        counts = _partition_counts(described)
        leaderless = {t["topic"] for t in described if any(p.get("leader", 0) < 0 for p in t["partitions"])}
        not_visible[:] = [name for name in specs if name not in counts or name in leaderless]
        if not not_visible:
            break
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)
    wrong = {name: counts[name] for name, spec in specs.items() if counts[name] != spec.partitions}
    if wrong:
        raise BrokerError(
            "topic(s) exist with a different partition count: "
            + "; ".join(
                f"{name!r} has {got}, wanted {specs[name].partitions}" for name, got in sorted(wrong.items())
            )
        )


def _observed(
    described: list[dict[str, Any]], configs: Mapping[str, dict[str, str]]
) -> dict[str, ObservedTopic]:
    observed = {}
    for topic in described:
        name = topic["topic"]
        if topic.get("error_code", 0) != 0 or name not in configs:
            continue
        partitions = sorted(topic["partitions"], key=lambda p: int(p["partition"]))
        observed[name] = ObservedTopic(tuple(len(p["replicas"]) for p in partitions), configs[name])
    return observed


def _config_entries(responses: list[Any], names: set[str]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Topic name -> reported configs, plus the per-topic errors, from DescribeConfigs responses."""
    configs: dict[str, dict[str, str]] = {}
    errors = []
    for response in responses:
        for resource in response.to_object().get("resources", []):
            name = resource["resource_name"]
            if name not in names:
                continue
            code = resource["error_code"]
            if code != _NO_ERROR:
                errors.append(f"topic {name!r}: cannot describe its configs: {for_code(code).__name__}")
                continue
            configs[name] = {
                # aiokafka spells the field config_names
                str(entry.get("config_names", entry.get("config_name"))): str(entry["config_value"])
                for entry in resource["config_entries"]
                if entry.get("config_value") is not None
            }
    return configs, errors


async def _describe(
    admin: AIOKafkaAdminClient, names: list[str]
) -> tuple[dict[str, ObservedTopic], list[str]]:
    described = await admin.describe_topics()  # all topics: a per-topic Metadata may auto-create
    present = {t["topic"] for t in described if t.get("error_code", 0) == 0} & set(names)
    if not present:
        return {}, []
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in sorted(present)]
    )
    configs, errors = _config_entries(responses, present)
    return _observed(described, configs), errors


async def check_topics(
    bootstrap: str,
    specs: Mapping[str, TopicSpec],
    *,
    timeout_s: float = 15,
    security: ClientSecurity = PLAINTEXT,
) -> None:
    """Check that every topic of ``specs`` exists as specified.

    Raises :class:`ConfigError` naming every topic and mismatch (one line, ``; ``-separated), or
    :class:`BrokerError` if the broker cannot be asked.
    """
    if not specs:
        return
    async with round_trip("describing topics", bootstrap, timeout_s, security, started_admin) as admin:
        observed, errors = await _describe(admin, list(specs))
    problems = errors + mismatches(specs, observed)
    if problems:
        raise ConfigError("; ".join(problems))


async def prepare_topics(
    bootstrap: str,
    specs: Mapping[str, TopicSpec],
    *,
    timeout_s: float = 15,
    security: ClientSecurity = PLAINTEXT,
) -> None:
    """:func:`ensure_topics` then :func:`check_topics`: what a worker does before it starts."""
    await ensure_topics(bootstrap, specs, timeout_s=timeout_s, security=security)
    await check_topics(bootstrap, specs, timeout_s=timeout_s, security=security)


async def message_limits(
    bootstrap: str,
    names: list[str],
    *,
    timeout_s: float = 15,
    security: ClientSecurity = PLAINTEXT,
) -> dict[str, int]:
    """Each topic's ``max.message.bytes``, where the broker reports it (one DescribeConfigs).

    Apache Kafka reports it for every topic (the broker's ``message.max.bytes`` when the topic does not
    set it); Tansu 0.6 only when it was set at creation: a topic missing from the answer has no
    reported limit, and the caller falls back to its setting. Raises :class:`BrokerError` if the broker
    cannot be asked.
    """
    async with round_trip("describing topics", bootstrap, timeout_s, security, started_admin) as admin:
        observed, _ = await _describe(admin, names)
    limits = {}
    for name, topic in observed.items():
        value = topic.configs.get(MAX_MESSAGE_BYTES)
        if value is not None and value.strip().isdigit():
            limits[name] = int(value)
    return limits
