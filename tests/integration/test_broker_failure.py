"""Kafka nodes SIGKILLed under load on a three-node cluster: nothing lost, the worker rides it out.

Kafka only (three KRaft nodes, RF 3 topics, min.insync.replicas 2, acks=all); not parametrised over
engines. The scenario is :func:`crossbound.testing.chaos.run_broker_failure`; ``benchmarks/broker_failure.py``
runs it once and prints the timings, which are not asserted here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crossbound.broker import KafkaCluster
from crossbound.codec import Codec
from crossbound.rules import Catalogue
from crossbound.testing.chaos import run_broker_failure

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[KafkaCluster]:
    with KafkaCluster(nodes=3) as kafka:
        yield kafka


async def test_killing_a_follower_then_the_controller_leader_loses_nothing(
    cluster: KafkaCluster, codec: Codec, catalogue: Catalogue, tmp_path: Path
) -> None:
    report = await run_broker_failure(cluster, codec, catalogue, rate=150, seconds=40, log_dir=tmp_path)
    figures = report.as_dict()
    print(figures)
    assert [k.controller for k in report.kills] == [False, True], figures
    assert all(cluster.running(n) for n in cluster.node_ids)
    # the institutions' sends (acks=all, idempotent) and the worker's (acks=all, retried) all landed
    assert report.requests >= 6000
    assert report.lost == 0, figures
    assert report.verdicts == report.requests
    assert report.not_accepted == 0, figures
    assert report.worker_alive, report.worker_log
    assert report.worker_ready, report.worker_log
    assert report.worker_tracebacks == 0, report.worker_log
    # Not exactly once: Faust's at-least-once producer is not idempotent (Faust turns idempotence on
    # only for exactly_once), so a produce batch in flight when its leader dies is retried and may be
    # written twice: a repeated verdict, or a repeated attestation request that the data holder
    # answers twice (the spare answer is dead-lettered as late or orphan). Seen in five runs: 0, 0, 1,
    # 7 and 12 repeats (at most 0.15 %), 0-13 such dead letters. A repeat is the same decision; a
    # bound of 2 %, not zero, is asserted.
    assert report.conflicting_repeats == 0, figures
    assert report.duplicates <= report.requests // 50, figures
    assert set(report.dead_letter_reasons) <= {"late_attestation", "orphan_attestation"}, figures
