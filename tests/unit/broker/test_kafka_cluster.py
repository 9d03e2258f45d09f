"""Apache Kafka engine pieces that need no broker: jars, Java, node properties, argument checks."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from xml.etree import ElementTree

import pytest

from crossbound.broker import kafka_config, kafka_jars
from crossbound.broker.kafka import KafkaCluster
from crossbound.broker.kafka_config import KafkaNode, node_properties
from crossbound.broker.kafka_jars import KAFKA_VERSION
from crossbound.cli import main
from crossbound.errors import BrokerNotFound
from helpers import ROOT


def _nodes(tmp_path: Path, count: int) -> list[KafkaNode]:
    return [KafkaNode(i, 9000 + i, 9100 + i, tmp_path / f"node-{i}") for i in range(1, count + 1)]


def test_the_shipped_maven_descriptor_pins_the_version_the_code_expects() -> None:
    pom = kafka_jars._pom_text()
    assert re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)[1] == KAFKA_VERSION  # type: ignore[index]
    assert "<artifactId>kafka_2.13</artifactId>" in pom


def test_the_shipped_maven_descriptor_is_well_formed_xml() -> None:
    # Maven refuses a POM that is not XML (a "--" inside a comment, say) on a machine with no cache.
    root = ElementTree.fromstring(kafka_jars._pom_text())
    assert root.tag == "{http://maven.apache.org/POM/4.0.0}project"


def test_three_nodes_form_a_three_voter_quorum_with_replicated_internal_topics(tmp_path: Path) -> None:
    cluster = _nodes(tmp_path, 3)
    props = node_properties(cluster[1], cluster)
    assert props["node.id"] == "2"
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9102"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9002"
    assert props["log.dirs"] == str(tmp_path / "node-2" / "data")
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["auto.create.topics.enable"] == "false"
    assert props["unclean.leader.election.enable"] == "false"


def test_one_node_lowers_internal_topics_to_what_it_can_hold(tmp_path: Path) -> None:
    [node] = _nodes(tmp_path, 1)
    props = node_properties(node, [node], {"num.partitions": "8"})
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9101"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["num.partitions"] == "8"  # overrides win


@pytest.mark.parametrize("nodes", [0, 2, 5])
def test_only_one_or_three_nodes(nodes: int) -> None:
    with pytest.raises(ValueError, match="1 or 3"):
        KafkaCluster(nodes)


def test_no_java_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerNotFound, match=r"openjdk-17-jre-headless.*make kafka"):
        kafka_jars.find_java()


def test_java_home_wins_over_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert kafka_jars.find_java() == java


def test_no_jars_in_the_cache_says_how_to_fetch_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(BrokerNotFound, match=r"no Apache Kafka .* jars in .*make kafka"):
        kafka_jars.find_kafka_libs()
    # a half-copied cache (no completion marker) is not used
    libs = tmp_path / "crossbound" / f"kafka-{KAFKA_VERSION}"
    libs.mkdir(parents=True)
    (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").write_bytes(b"")
    with pytest.raises(BrokerNotFound):
        kafka_jars.find_kafka_libs()
    (libs / ".complete").write_text("kafka\n")
    assert kafka_jars.find_kafka_libs() == libs


def test_an_explicit_jar_directory_must_hold_the_server_jar(tmp_path: Path) -> None:
    with pytest.raises(BrokerNotFound, match="CROSSBOUND_KAFKA_LIBS"):
        kafka_jars.find_kafka_libs(tmp_path)
    (tmp_path / "kafka_2.13-4.1.0.jar").write_bytes(b"")
    assert kafka_jars.find_kafka_libs(tmp_path) == tmp_path


def test_fetch_without_maven_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerNotFound, match="Maven"):
        kafka_jars.fetch_kafka(tmp_path / "libs")
    assert not (tmp_path / "libs").exists()


def test_a_failed_maven_run_leaves_nothing_behind(tmp_path: Path) -> None:
    mvn = tmp_path / "mvn"
    mvn.write_text("#!/bin/sh\necho 'Could not resolve dependencies' >&2\nexit 1\n")
    mvn.chmod(0o755)
    with pytest.raises(kafka_jars.BrokerError, match="Could not resolve dependencies"):
        kafka_jars.fetch_kafka(tmp_path / "cache" / "libs", mvn=str(mvn))
    assert list((tmp_path / "cache").iterdir()) == []


def test_cluster_ids_are_kafka_uuids() -> None:
    ids = {kafka_config.new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)


def test_cli_broker_without_java_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["broker", "--engine", "kafka"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("crossbound: no Java runtime")
    assert "Traceback" not in err


def test_cli_nodes_and_fetch_apply_to_kafka_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["broker", "--nodes", "3"]) == 2
    assert main(["broker", "--fetch"]) == 2
    assert "--engine kafka" in capsys.readouterr().err


def test_docker_compose_runs_kafka_with_the_broker_settings_the_tests_run(tmp_path: Path) -> None:
    """One source of truth: every broker property docker-compose.yml sets is what KafkaCluster(1) sets."""
    text = (ROOT / "docker-compose.yml").read_text()
    kafka_block = text.split("\n  kafka:\n", 1)[1].split("\n  worker:\n", 1)[0]
    compose = {
        m[1].lower().replace("_", "."): m[2]
        for m in re.finditer(r'^\s+KAFKA_([A-Z0-9_]+): *"?([^"\n]*)"?$', kafka_block, re.M)
    }
    [node] = _nodes(tmp_path, 1)
    ours = node_properties(node, [node])
    placement = {  # where a node listens and keeps data differs between a container and loopback
        "node.id",
        "listeners",
        "advertised.listeners",
        "listener.security.protocol.map",
        "controller.quorum.voters",
        "log.dirs",
    }
    shared = sorted(set(compose) & set(ours) - placement)
    assert {k: compose[k] for k in shared} == {k: ours[k] for k in shared}
    # and the ones that make it production-shaped are among them
    assert {
        "auto.create.topics.enable",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "process.roles",
    } <= set(shared)
