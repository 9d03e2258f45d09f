"""The brokers crossbound runs itself, and the client-side support it needs around them.

Two engines: ``tansu`` (:class:`EmbeddedBroker`, memory only, the light default of the demo) and
``kafka`` (:class:`KafkaCluster`, Apache Kafka in KRaft mode, the production broker the test suite
proves crossbound on). The Tansu client workarounds in :mod:`crossbound.broker.compat` apply to Tansu
only. Every client built here takes a :class:`~crossbound.broker.security.ClientSecurity` (TLS, SASL);
:mod:`crossbound.broker.acls` creates and lists ACLs, and a :class:`KafkaCluster` started with a
:class:`~crossbound.broker.kafka_config.SecureMode` is a secured node for the tests
(:mod:`crossbound.broker.testca` makes its CA).
"""

from __future__ import annotations

from crossbound.broker.admin import check_topics, ensure_topics, prepare_topics, wait_for_broker
from crossbound.broker.compat import (
    apply_tansu_workarounds,
    remove_tansu_workarounds,
    tansu_workarounds_applied,
    unpatched_end_offsets,
)
from crossbound.broker.engines import ENGINES, Broker, make_broker
from crossbound.broker.kafka import KafkaCluster, run_cluster
from crossbound.broker.kafka_jars import KAFKA_VERSION, find_kafka_libs
from crossbound.broker.tansu import EmbeddedBroker, find_tansu_binary, run_broker

__all__ = [
    "ENGINES",
    "KAFKA_VERSION",
    "Broker",
    "EmbeddedBroker",
    "KafkaCluster",
    "apply_tansu_workarounds",
    "check_topics",
    "ensure_topics",
    "find_kafka_libs",
    "find_tansu_binary",
    "make_broker",
    "prepare_topics",
    "remove_tansu_workarounds",
    "run_broker",
    "run_cluster",
    "tansu_workarounds_applied",
    "unpatched_end_offsets",
    "wait_for_broker",
]
