"""What each node of a :class:`~crossbound.broker.kafka.KafkaCluster` is told: its properties and logging."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crossbound.broker.net import HOST

if TYPE_CHECKING:  # the CA module imports cryptography, which only a secured start needs
    from crossbound.broker.testca import GeneratedPki

__all__ = ["LOG4J", "KafkaNode", "SecureMode", "new_cluster_id", "node_properties", "scram_format_args"]

_SCRAM = "SCRAM-SHA-512"

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


@dataclass(frozen=True, slots=True)
class SecureMode:
    """A secured cluster: clients on SASL_SSL with SCRAM-SHA-512, the standard authorizer.

    ``admin`` (user, password) is the super user, also the brokers' own inter-broker login; ``users``
    are the other SCRAM users (name -> password), created when the storage is formatted. Controllers
    talk mutual TLS on their own listener, the broker certificate's subject a super user.
    """

    pki: GeneratedPki
    admin: tuple[str, str]
    users: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<SecureMode admin={self.admin[0]} users={sorted(self.users)}>"


def _jaas(user: str, password: str) -> str:
    module = "org.apache.kafka.common.security.scram.ScramLoginModule"
    return f'{module} required username="{user}" password="{password}";'


def scram_format_args(secure: SecureMode) -> list[str]:
    """``kafka-storage format`` arguments that create every SCRAM user."""
    args = []
    for user, password in {secure.admin[0]: secure.admin[1], **secure.users}.items():
        args += ["--add-scram", f"{_SCRAM}=[name={user},password={password}]"]
    return args


def _secure_properties(node: KafkaNode, secure: SecureMode) -> dict[str, str]:
    pki = secure.pki
    return {
        "listeners": f"SASL_SSL://{HOST}:{node.port},CONTROLLER://{HOST}:{node.controller_port}",
        "advertised.listeners": f"SASL_SSL://{HOST}:{node.port}",
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SSL",
        "inter.broker.listener.name": "SASL_SSL",
        "sasl.enabled.mechanisms": _SCRAM,
        "sasl.mechanism.inter.broker.protocol": _SCRAM,
        f"listener.name.sasl_ssl.{_SCRAM.lower()}.sasl.jaas.config": _jaas(*secure.admin),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.keystore_file),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca_file),
        "listener.name.controller.ssl.client.auth": "required",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{secure.admin[0]};{pki.broker_principal}",
    }


def node_properties(
    node: KafkaNode,
    cluster: Sequence[KafkaNode],
    overrides: Mapping[str, str] | None = None,
    secure: SecureMode | None = None,
) -> dict[str, str]:
    """The ``server.properties`` of ``node`` in ``cluster`` (every node is broker and controller);
    ``secure``: SASL_SSL and ACLs instead of plain-text listeners."""
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
    if secure is not None:
        props.update(_secure_properties(node, secure))
    props.update(overrides or {})
    return props
