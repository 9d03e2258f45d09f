"""What each node of a :class:`~crossbound.broker.kafka.KafkaCluster` is told: its properties and logging."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from crossbound.broker.net import HOST

__all__ = ["LOG4J", "KafkaNode", "new_cluster_id", "node_properties"]

LOG4J = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
logger.controller.name = kafka.server.ControllerServer
logger.controller.level = INFO
"""


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's ``Uuid``).

    Never starting with ``-`` (as Kafka's ``Uuid.randomUuid``): ``kafka-storage format -t -xyz`` takes
    the id for an option and fails."""
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """One node of a cluster: its id, client and controller ports, and its directory."""

    node_id: int
    port: int
    controller_port: int
    home: Path

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def log_path(self) -> Path:
        return self.home / "kafka.log"


def node_properties(
    node: KafkaNode, cluster: Sequence[KafkaNode], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The ``server.properties`` of ``node`` in ``cluster`` (every node is broker and controller)."""
    voters = ",".join(f"{n.node_id}@{HOST}:{n.controller_port}" for n in cluster)
    rf, isr = str(min(3, len(cluster))), str(min(2, len(cluster)))
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{HOST}:{node.port},CONTROLLER://{HOST}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{node.port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(node.data_dir),
        # internal topics as a three-node production cluster has them (one node: RF 1)
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": isr,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": isr,
        "default.replication.factor": rf,
        "min.insync.replicas": isr,
        "unclean.leader.election.enable": "false",
        # every topic is created explicitly; a typo must fail, not create a topic
        "auto.create.topics.enable": "false",
        # development and tests on two cores: no join delay, fewer internal partitions
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.num.partitions": "3",
        "num.partitions": "4",
        "num.network.threads": "2",
        "num.io.threads": "4",
    }
    props.update(overrides or {})
    return props
