"""Kafka nodes SIGKILLed under load on a three-node cluster: nothing lost, the worker rides it out.

Kafka only (three KRaft nodes, RF 3 topics, min.insync.replicas 2, acks=all); not parametrised over
engines. The scenario is :func:`crossbound.chaos.run_broker_failure`; ``benchmarks/broker_failure.py``
runs it once and prints the timings, which are not asserted here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crossbound.broker import KafkaCluster
from crossbound.chaos import run_broker_failure
from crossbound.codec import Codec
from crossbound.rules import Catalogue

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[KafkaCluster]:
    with KafkaCluster(nodes=3) as kafka:
        yield kafka


async def test_killing_a_follower_then_the_controller_leader_loses_nothing(
    cluster: KafkaCluster, codec: Codec, catalogue: Catalogue, tmp_path: Path
) -> None:
    report = await run_broker_failure(cluster, codec, catalogue, rate=200, seconds=35, log_dir=tmp_path)
    print(report.as_dict())
    assert [k.controller for k in report.kills] == [False, True]
    assert all(cluster.running(n) for n in cluster.node_ids)
    assert report.lost == 0, report.as_dict()
    assert report.verdicts == report.requests == 7000
    assert report.dead_letters == 0
    assert report.not_accepted == 0
    assert report.worker_alive
    assert report.worker_ready
    assert report.worker_tracebacks == 0, report.worker_log
    # the worker runs throughout, its producer writes with acks=all and the bus's producer is
    # idempotent: a repeat could only come from a retried worker send whose first write landed
    assert report.duplicates == 0, report.as_dict()
