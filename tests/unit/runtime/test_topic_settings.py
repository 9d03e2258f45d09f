"""Topic settings per kind, the start-up comparison with what a broker reports, and docker-compose.yml.

No broker: the comparison is pure (crossbound.broker.topicspec) and the admin calls are fed fake
responses.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiokafka.admin import NewTopic
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from crossbound.broker import admin
from crossbound.broker.topicspec import (
    ObservedTopic,
    TopicSpec,
    compare,
    mismatches,
    topic_configs,
    topic_specs,
)
from crossbound.cli import build_parser, settings_from_args
from crossbound.errors import BrokerError
from crossbound.runtime.worker import for_broker
from crossbound.settings import Settings, TopicSettings, TopicsSettings
from crossbound.topics import AUDIT_TABLE, TABLES, TopicKind, Topics
from helpers import ROOT

DAY_MS = 86_400_000

EXPECTED_DEFAULTS = {
    "inputs": (7 * DAY_MS, "delete"),
    "attestations": (7 * DAY_MS, "delete"),
    "verdicts": (90 * DAY_MS, "delete"),
    "deadletter": (30 * DAY_MS, "delete"),
    "changelog": (-1, "compact"),
    "internal": (7 * DAY_MS, "delete"),
    "audit": (-1, "delete"),  # an audit trail is never compacted
    "registry": (-1, "compact"),
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("CROSSBOUND_"):
            monkeypatch.delenv(name)


# -- settings ----------------------------------------------------------------------------------------


def test_kinds_are_the_settings_fields() -> None:
    assert set(TopicsSettings.kind_names()) == {k.value for k in TopicKind} == set(EXPECTED_DEFAULTS)


@pytest.mark.parametrize("kind", sorted(EXPECTED_DEFAULTS))
def test_defaults_per_kind_suit_three_nodes(kind: str) -> None:
    ts = Settings().topic_settings().for_kind(kind)
    retention, cleanup = EXPECTED_DEFAULTS[kind]
    assert (ts.replication_factor, ts.min_insync_replicas) == (3, 2)
    assert (ts.retention_ms, ts.cleanup_policy) == (retention, cleanup)


def test_short_retentions_outlive_attestation_timeout_and_dedupe() -> None:
    s = Settings()
    floor = (s.pipeline.attestation_timeout_s + s.pipeline.dedupe_retention_s) * 1000
    for kind in ("inputs", "attestations", "internal"):
        assert s.topics.for_kind(kind).retention_ms > floor
    assert s.topics.verdicts.retention_ms >= 30 * DAY_MS
    assert s.topics.deadletter.retention_ms >= 30 * DAY_MS


def test_producer_acks_default_all_and_maps_to_each_client() -> None:
    kafka = Settings().kafka
    assert (kafka.acks, kafka.producer_acks, kafka.aiokafka_acks) == ("all", -1, "all")
    one = Settings(kafka={"acks": "1"}).kafka
    assert (one.producer_acks, one.aiokafka_acks) == (1, 1)
    with pytest.raises(ValidationError):
        Settings(kafka={"acks": "2"})


def test_env_override_of_one_field_keeps_the_kinds_other_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSBOUND_TOPICS__VERDICTS__RETENTION_MS", str(400 * DAY_MS))
    monkeypatch.setenv("CROSSBOUND_TOPICS__CHANGELOG__REPLICATION_FACTOR", "5")
    monkeypatch.setenv("CROSSBOUND_TOPICS__DEADLETTER__CLEANUP_POLICY", "compact,delete")
    topics = Settings().topics
    assert topics.verdicts == TopicSettings(retention_ms=400 * DAY_MS, cleanup_policy="delete")
    assert topics.changelog == TopicSettings(replication_factor=5, retention_ms=-1, cleanup_policy="compact")
    assert topics.deadletter.cleanup_policy == "compact,delete"
    assert topics.deadletter.retention_ms == 30 * DAY_MS
    assert topics.inputs == TopicsSettings().inputs


def test_env_replication_factor_lowers_every_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSBOUND_KAFKA__REPLICATION_FACTOR", "1")
    s = Settings()
    assert s.topics == TopicsSettings()  # the per-kind settings themselves are unchanged
    for kind in TopicsSettings.kind_names():
        ts = s.topic_settings().for_kind(kind)
        assert (ts.replication_factor, ts.min_insync_replicas) == (1, 1), kind
        assert ts.retention_ms == EXPECTED_DEFAULTS[kind][0]


def test_single_node_sets_rf_and_isr_1_everywhere() -> None:
    lowered = Settings().single_node()
    assert lowered.kafka.replication_factor == 1
    for kind in TopicsSettings.kind_names():
        ts = lowered.topic_settings().for_kind(kind)
        assert (ts.replication_factor, ts.min_insync_replicas) == (1, 1)


def test_replication_override_only_lowers_min_isr() -> None:
    five = Settings(kafka={"replication_factor": 5}).topic_settings().verdicts
    assert (five.replication_factor, five.min_insync_replicas) == (5, 2)
    two = Settings(
        kafka={"replication_factor": 2},
        topics={"verdicts": {"replication_factor": 4, "min_insync_replicas": 3}},
    ).topic_settings()
    assert (two.verdicts.replication_factor, two.verdicts.min_insync_replicas) == (2, 2)


def test_cli_flag_replication_factor() -> None:
    args = build_parser().parse_args(["worker", "--replication-factor", "1"])
    s = settings_from_args(args)
    assert s.kafka.replication_factor == 1
    assert s.topic_settings().changelog.replication_factor == 1
    assert settings_from_args(build_parser().parse_args(["worker"])).kafka.replication_factor is None


def test_tansu_lowers_unless_told_otherwise() -> None:
    assert for_broker(Settings(), tansu=True).kafka.replication_factor == 1
    assert for_broker(Settings(), tansu=False).kafka.replication_factor is None
    explicit = Settings(kafka={"replication_factor": 2})
    assert for_broker(explicit, tansu=True).kafka.replication_factor == 2


@pytest.mark.parametrize(
    ("topics", "message"),
    [
        ({"verdicts": {"min_insync_replicas": 4}}, "min_insync_replicas 4 is more than replication_factor 3"),
        ({"verdicts": {"retention_ms": 0}}, "retention_ms must be positive, or -1"),
        ({"verdicts": {"cleanup_policy": "keep"}}, "cleanup_policy"),
        ({"verdicts": {"retention": 5}}, "retention"),
        ({"inputs": {"retention_ms": 3_600_000}}, "topics.inputs.retention_ms 3600000 must exceed"),
        ({"attestations": {"retention_ms": 60_000}}, "topics.attestations.retention_ms"),
    ],
)
def test_bad_topic_settings_are_refused(topics: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Settings(topics=topics)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(topics={"verdict": {"retention_ms": 1}})
    with pytest.raises(KeyError):
        TopicsSettings().for_kind("verdict")


# -- topic names and specs ---------------------------------------------------------------------------


def test_every_topic_has_a_kind() -> None:
    topics = Topics(prefix="p.", app_id="app")
    kinds = topics.kinds()
    audit = {*topics.audits(), topics.changelog(AUDIT_TABLE)}
    assert set(kinds) == set(topics.all()) | set(topics.changelogs()) | audit
    assert kinds["p.hk.audit"] is kinds["p.sz.audit"] is TopicKind.AUDIT
    assert kinds["p.hk.requests"] is TopicKind.INPUTS
    assert kinds["p.sz.attestation-requests"] is TopicKind.ATTESTATIONS
    assert kinds["p.hk.attestations"] is TopicKind.ATTESTATIONS
    assert kinds["p.sz.verdicts"] is TopicKind.VERDICTS
    assert kinds["p.hk.deadletter"] is TopicKind.DEADLETTER
    assert kinds["p.app.quota"] is TopicKind.INTERNAL
    assert kinds["p.sz.fingerprints"] is kinds["p.hk.fingerprints"] is TopicKind.REGISTRY
    assert [n for n, k in kinds.items() if k is TopicKind.CHANGELOG] == [
        "app-pending-changelog",
        "app-answered-changelog",
        "app-quota_usage-changelog",
        "app-fingerprints-changelog",
        "app-audit_heads-changelog",
    ]


def test_changelog_names_and_configs_are_fausts() -> None:
    """The worker's Faust app names its changelogs as Topics does, with the changelog kind's settings."""
    from crossbound.metrics import Metrics
    from crossbound.runtime.app import build_app
    from crossbound.runtime.worker import load_components

    settings = Settings(pipeline={"app_id": "cbtest"}, topics={"changelog": {"min_insync_replicas": 3}})
    parts = load_components(settings)
    metrics = Metrics(CollectorRegistry())
    app = build_app(settings, parts, metrics, "127.0.0.1:1")
    assert sorted(app.tables) == sorted(TABLES)
    names = {table.changelog_topic.get_topic_name(): table.changelog_topic for table in app.tables.values()}
    assert sorted(names) == sorted(parts.topics.changelogs())
    for topic in names.values():
        assert topic.config == topic_configs(settings.topic_settings().changelog)
        assert topic.config["min.insync.replicas"] == "3"
    assert app.conf.topic_replication_factor == 3
    assert app.conf.producer_acks == -1


def test_topic_specs_per_kind() -> None:
    topics = Topics()
    specs = topic_specs(topics, Settings().topic_settings(), partitions=6)
    assert len(specs) == 20  # 6 kinds x 2 sides, quota, 4 changelogs, 2 audit logs, the heads' changelog
    assert specs["sz.audit"].configs["retention.ms"] == "-1"
    assert specs["sz.audit"].configs["cleanup.policy"] == "delete"
    assert specs.pop("crossbound-fingerprints-changelog").partitions == 1  # a global table's
    assert {s.partitions for s in specs.values()} == {6}
    assert {s.replication_factor for s in specs.values()} == {3}
    assert specs["hk.verdicts"].configs == {
        "min.insync.replicas": "2",
        "retention.ms": str(90 * DAY_MS),
        "cleanup.policy": "delete",
    }
    assert specs["crossbound-answered-changelog"].configs["cleanup.policy"] == "compact"
    assert specs["crossbound-answered-changelog"].configs["retention.ms"] == "-1"
    assert specs["sz.fingerprints"].configs["cleanup.policy"] == "compact"  # the latest record per digest
    assert specs["sz.fingerprints"].configs["retention.ms"] == "-1"
    single = topic_specs(topics, Settings().single_node().topic_settings(), partitions=6)
    assert {s.replication_factor for s in single.values()} == {1}
    assert {s.configs["min.insync.replicas"] for s in single.values()} == {"1"}


def test_topic_spec_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="partition count"):
        TopicSpec(0)
    with pytest.raises(ValueError, match="replication factor"):
        TopicSpec(1, 0)


# -- comparison --------------------------------------------------------------------------------------

WANT = TopicSpec(
    4, 3, {"min.insync.replicas": "2", "retention.ms": str(90 * DAY_MS), "cleanup.policy": "delete"}
)


def _seen(replicas: tuple[int, ...] = (3, 3, 3, 3), **configs: str) -> ObservedTopic:
    base = {"min.insync.replicas": "2", "retention.ms": str(90 * DAY_MS), "cleanup.policy": "delete"}
    return ObservedTopic(replicas, {**base, **{k.replace("_", "."): v for k, v in configs.items()}})


def test_matching_topic_has_no_mismatch() -> None:
    assert compare("hk.verdicts", WANT, _seen()) == []


@pytest.mark.parametrize(
    ("observed", "message"),
    [
        (None, "topic 'hk.verdicts': does not exist"),
        (_seen((3, 3)), "topic 'hk.verdicts': 2 partitions, settings want 4"),
        (_seen((1, 1, 1, 1)), "topic 'hk.verdicts': replication factor 1, settings want 3"),
        (
            _seen((3, 1, 3, 3)),
            "topic 'hk.verdicts': replication factor 1 to 3 (differs by partition), settings want 3",
        ),
        (_seen(min_insync_replicas="1"), "topic 'hk.verdicts': min.insync.replicas 1, settings want 2"),
        (
            _seen(retention_ms="604800000"),
            f"topic 'hk.verdicts': retention.ms 604800000, settings want {90 * DAY_MS}",
        ),
        (
            _seen(cleanup_policy="compact"),
            "topic 'hk.verdicts': cleanup.policy compact, settings want delete",
        ),
    ],
)
def test_each_kind_of_mismatch_is_named(observed: ObservedTopic | None, message: str) -> None:
    assert compare("hk.verdicts", WANT, observed) == [message]


def test_cleanup_policy_is_compared_as_a_set_and_numbers_as_numbers() -> None:
    both = TopicSpec(1, 1, {"cleanup.policy": "compact,delete", "retention.ms": "-1"})
    assert (
        compare("t", both, ObservedTopic((1,), {"cleanup.policy": "delete, compact", "retention.ms": " -1"}))
        == []
    )
    assert compare("t", both, ObservedTopic((1,), {"cleanup.policy": "compact", "retention.ms": "-1"})) == [
        "topic 't': cleanup.policy compact, settings want compact,delete"
    ]


def test_configs_the_broker_does_not_report_are_not_checked() -> None:
    # Tansu 0.6 reports only explicitly set configs: a topic created without them cannot be judged.
    assert compare("t", WANT, ObservedTopic((3, 3, 3, 3), {})) == []


def test_mismatches_cover_every_topic_in_name_order() -> None:
    specs = {"b": TopicSpec(1, 1), "a": TopicSpec(2, 1), "c": TopicSpec(1, 3)}
    observed = {"b": ObservedTopic((1,), {}), "a": ObservedTopic((1,), {}), "c": ObservedTopic((1,), {})}
    assert mismatches(specs, observed) == [
        "topic 'a': 1 partitions, settings want 2",
        "topic 'c': replication factor 1, settings want 3",
    ]
    assert mismatches(specs, {}) == [f"topic {n!r}: does not exist" for n in "abc"]


# -- admin calls, fed fake responses -----------------------------------------------------------------


class _Response:
    def __init__(self, obj: dict[str, Any]) -> None:
        self._obj = obj

    def to_object(self) -> dict[str, Any]:
        return self._obj


def test_describe_configs_responses_become_observed_topics() -> None:
    responses = [
        _Response(
            {
                "resources": [
                    {
                        "error_code": 0,
                        "resource_name": "t",
                        "config_entries": [
                            {"config_names": "retention.ms", "config_value": "1"},
                            {"config_names": "secret", "config_value": None},
                        ],
                    },
                    {"error_code": 3, "resource_name": "gone", "config_entries": []},
                    {"error_code": 0, "resource_name": "other", "config_entries": []},
                ]
            }
        )
    ]
    configs, errors = admin._config_entries(responses, {"t", "gone"})
    assert configs == {"t": {"retention.ms": "1"}}
    assert errors == ["topic 'gone': cannot describe its configs: UnknownTopicOrPartitionError"]
    described = [
        {
            "topic": "t",
            "error_code": 0,
            "partitions": [{"partition": 1, "replicas": [1]}, {"partition": 0, "replicas": [1, 2]}],
        },
        {"topic": "x", "error_code": 0, "partitions": [{"partition": 0, "replicas": [1]}]},
    ]
    assert admin._observed(described, configs) == {"t": ObservedTopic((2, 1), {"retention.ms": "1"})}


class _FakeAdmin:
    def __init__(self, code: int, message: str) -> None:
        self.created: list[NewTopic] = []
        self.code, self.message = code, message

    async def create_topics(self, new_topics: list[NewTopic]) -> _Response:
        self.created = new_topics
        return _Response(
            {
                "topic_errors": [
                    {"topic": t.name, "error_code": self.code, "error_message": self.message}
                    for t in new_topics
                ]
            }
        )

    async def describe_topics(self) -> list[dict[str, Any]]:
        return [
            {"topic": t.name, "error_code": 0, "partitions": [{}] * t.num_partitions} for t in self.created
        ]


async def test_ensure_creates_with_replication_factor_and_configs() -> None:
    fake = _FakeAdmin(0, "")
    specs = {"a": TopicSpec(2, 3, {"cleanup.policy": "compact"}), "b": TopicSpec(1)}
    await admin._ensure(fake, admin._as_specs(specs), [])  # type: ignore[arg-type]
    got = {t.name: (t.num_partitions, t.replication_factor, t.topic_configs) for t in fake.created}
    assert got == {"a": (2, 3, {"cleanup.policy": "compact"}), "b": (1, 1, {})}
    legacy = admin._as_specs({"c": 4})
    assert legacy == {"c": TopicSpec(4, 1, {})}


async def test_ensure_waits_until_every_new_partition_has_a_leader() -> None:
    class _Electing(_FakeAdmin):
        calls = 0

        async def describe_topics(self) -> list[dict[str, Any]]:
            self.calls += 1
            leader = -1 if self.calls < 3 else 1  # Kafka: no leader yet right after CreateTopics
            return [{"topic": "a", "error_code": 0, "partitions": [{"leader": 1}, {"leader": leader}]}]

    fake = _Electing(0, "")
    await admin._ensure(fake, {"a": TopicSpec(2)}, [])  # type: ignore[arg-type]
    assert fake.calls == 3


async def test_too_few_brokers_is_one_error_naming_topics_and_the_switch() -> None:
    fake = _FakeAdmin(38, "Unable to replicate the partition 3 time(s)")
    with pytest.raises(BrokerError) as info:
        await admin._ensure(fake, {"a": TopicSpec(1, 3), "b": TopicSpec(1, 3)}, [])  # type: ignore[arg-type]
    message = str(info.value)
    assert message.count("InvalidReplicationFactorError") == 1
    assert "'a', 'b': InvalidReplicationFactorError (code 38) Unable to replicate" in message
    assert "--replication-factor 1" in message


# -- docker-compose.yml ------------------------------------------------------------------------------


def _services(text: str) -> dict[str, list[str]]:
    """The lines of each service of a compose file (enough YAML for this file: two-space indents)."""
    services: dict[str, list[str]] = {}
    current: str | None = None
    in_services = False
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            in_services = line.startswith("services:")
            current = None
            continue
        if in_services and re.match(r"^  [a-z][\w-]*:\s*$", line):
            current = line.strip().rstrip(":")
            services[current] = []
        elif current is not None:
            services[current].append(line.strip())
    return services


def _env(lines: list[str]) -> dict[str, str]:
    env = {}
    for line in lines:
        m = re.match(r'^([A-Z][A-Z0-9_]+): *"?([^"]*)"?$', line)
        if m:
            env[m.group(1)] = m.group(2)
    return env


def test_compose_kafka_keeps_data_on_its_volume_and_is_reachable_from_the_host() -> None:
    kafka = _services((ROOT / "docker-compose.yml").read_text())["kafka"]
    env = _env(kafka)
    assert "image: apache/kafka:4.4.0" in kafka
    mounts = [line.removeprefix("- ").split(":", 1) for line in kafka if line.startswith("- kafka-data:")]
    assert mounts == [["kafka-data", env["KAFKA_LOG_DIRS"]]]
    assert env["CLUSTER_ID"], "a fixed cluster id"
    assert "EXTERNAL://127.0.0.1:19092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert '- "127.0.0.1:19092:19092"' in kafka
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_compose_worker_creates_topics_with_the_settings_for_one_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = _services((ROOT / "docker-compose.yml").read_text())
    assert "topics" not in services, "topics are created by the worker, with crossbound's settings"
    nodes = len(_env(services["kafka"])["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","))
    worker_env = _env(services["worker"])
    assert all(name.startswith("CROSSBOUND_") for name in worker_env)
    for name, value in worker_env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    for kind in TopicsSettings.kind_names():
        ts = settings.topic_settings().for_kind(kind)
        assert ts.replication_factor <= nodes, kind
        assert ts.min_insync_replicas <= ts.replication_factor
        assert ts.retention_ms == EXPECTED_DEFAULTS[kind][0], "only replication is lowered"
    assert settings.kafka.acks == "all"
