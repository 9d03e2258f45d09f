"""Topics created with their kind's settings and checked at start-up, against the session's broker.

Needs only the ``broker`` fixture: a single-node broker, Tansu or Apache Kafka, with ``bootstrap``
(``host:port``) and ``url`` (``kafka://host:port``), as ``EmbeddedBroker`` has. Both report the replication
factor a topic was created with, and the configs set explicitly at creation, so every mismatch below
is seen on both; only a replication factor larger than the cluster is refused by Kafka alone.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import pytest

from crossbound.broker import EmbeddedBroker, check_topics, ensure_topics, prepare_topics
from crossbound.broker.topicspec import TopicSpec, topic_specs
from crossbound.errors import BrokerError, ConfigError
from crossbound.settings import Settings
from crossbound.topics import Topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SINGLE = Settings().single_node().topic_settings()


def _topics() -> Topics:
    tag = uuid.uuid4().hex[:8]
    return Topics(prefix=f"ts{tag}.", app_id=f"ts{tag}")


async def test_prepare_creates_every_kind_and_then_accepts_it(broker: EmbeddedBroker) -> None:
    bootstrap: str = broker.bootstrap
    topics = _topics()
    specs = topic_specs(topics, SINGLE, partitions=2)
    await prepare_topics(bootstrap, specs)
    await prepare_topics(bootstrap, specs)  # existing and matching: fine
    await check_topics(bootstrap, specs)


async def test_check_names_topic_and_mismatch(broker: EmbeddedBroker) -> None:
    bootstrap: str = broker.bootstrap
    topics = _topics()
    verdicts = topics.verdicts("hk")
    await ensure_topics(
        bootstrap,
        {verdicts: TopicSpec(2, 1, {"retention.ms": "604800000", "cleanup.policy": "compact"})},
    )
    want = {verdicts: topic_specs(topics, SINGLE, partitions=2)[verdicts]}
    with pytest.raises(ConfigError) as info:
        await check_topics(bootstrap, want)
    assert str(info.value) == (
        f"topic {verdicts!r}: retention.ms 604800000, settings want {90 * 86_400_000}; "
        f"topic {verdicts!r}: cleanup.policy compact, settings want delete"
    )
    three = {verdicts: TopicSpec(2, 3, {})}
    with pytest.raises(ConfigError, match=f"topic {verdicts!r}: replication factor 1, settings want 3"):
        await check_topics(bootstrap, three)
    with pytest.raises(ConfigError, match=f"topic {verdicts!r}: 2 partitions, settings want 4"):
        await check_topics(bootstrap, {verdicts: TopicSpec(4, 1, {})})
    missing = topics.verdicts("sz")
    with pytest.raises(ConfigError, match=f"topic {missing!r}: does not exist"):
        await check_topics(bootstrap, {missing: TopicSpec(2, 1, {})})


async def test_replication_beyond_the_cluster_is_refused_with_the_switch(broker: EmbeddedBroker) -> None:
    bootstrap: str = broker.bootstrap
    topic = _topics().verdicts("hk")
    refused: str | None = None
    try:
        await ensure_topics(bootstrap, {topic: TopicSpec(1, 3, {})})
    except BrokerError as exc:
        refused = str(exc)
    if refused is None:
        pytest.skip("this broker accepts any replication factor (Tansu 0.6)")
    assert f"{topic!r}: InvalidReplicationFactorError" in refused
    assert "--replication-factor 1" in refused


async def test_worker_refuses_to_start_on_mismatching_topics(broker: EmbeddedBroker) -> None:
    bootstrap: str = broker.bootstrap
    url: str = broker.url
    topics = _topics()
    specs = topic_specs(topics, SINGLE, partitions=2)
    specs[topics.deadletter("sz")] = TopicSpec(2, 1, {"retention.ms": "86400000"})
    await ensure_topics(bootstrap, specs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSBOUND_")}
    cmd = [
        *(sys.executable, "-m", "crossbound", "worker", "--broker", url, "--no-metrics"),
        *("--replication-factor", "1", "--partitions", "2"),
        *("--app-id", topics.app_id, "--topic-prefix", topics.prefix),
    ]
    proc = await asyncio.to_thread(
        subprocess.run, cmd, capture_output=True, text=True, timeout=90, env=env, check=False
    )
    assert proc.returncode == 2, proc.stderr
    wanted = f"crossbound: topic {topics.deadletter('sz')!r}: retention.ms 86400000, settings want 2592000000"
    assert proc.stderr.strip().splitlines()[-1] == wanted
    assert "Traceback" not in proc.stderr
