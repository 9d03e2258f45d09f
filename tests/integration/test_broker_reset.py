"""A broker that lost everything under a running worker, and one that only restarted.

On Tansu (memory only) a restart is a full reset: the worker must notice, exit with code 75 naming what
it found, and a worker started again on the fresh broker must answer new requests. On Apache Kafka a
restart keeps the log directories: the worker must ride it out, not take it for a reset. And
``crossbound publish`` to a topic that does not exist (as after such a reset) fails instead of having
the broker auto-create it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crossbound.broker import (
    Broker,
    EmbeddedBroker,
    KafkaCluster,
    apply_tansu_workarounds,
    remove_tansu_workarounds,
)
from crossbound.broker.admin import partition_counts
from crossbound.broker.net import free_port
from crossbound.codec import Codec
from crossbound.rules import Catalogue
from crossbound.runtime.brokerwatch import EXIT_BROKER_RESET
from crossbound.testing.traffic import Traffic
from support import Bus, Worker, create_topics, unique_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SCENARIO = "sb_corporate_credit_report"  # attested, one agent hop: pending and answered changelogs
_FOUND = "the broker lost this worker's state"


@pytest.fixture
def own_tansu() -> Iterator[EmbeddedBroker]:
    """A Tansu of this test alone, on a fixed port, so that it can be restarted where the worker looks."""
    apply_tansu_workarounds()
    try:
        with EmbeddedBroker(port=free_port()) as broker:
            yield broker
    finally:
        remove_tansu_workarounds()


async def _answered(broker: Broker, topics: object, codec: Codec, catalogue: Catalogue, seed: int) -> None:
    traffic = Traffic(seed=seed)
    async with Bus(broker.bootstrap, topics, codec, catalogue) as bus:  # type: ignore[arg-type]
        ids = [await bus.send_case(traffic.case(SCENARIO, "valid")) for _ in range(20)]
        await bus.wait_for(lambda: all(r in bus.verdicts for r in ids), what="20 verdicts")


async def test_a_tansu_restart_stops_the_worker_and_a_new_worker_answers(
    own_tansu: EmbeddedBroker, codec: Codec, catalogue: Catalogue, tmp_path: Path
) -> None:
    topics = unique_topics("z")
    await create_topics(own_tansu, topics)
    first = Worker(own_tansu, topics, tmp_path / "first.log").start()
    try:
        await asyncio.to_thread(first.wait_ready, 60.0)
        await _answered(own_tansu, topics, codec, catalogue, seed=3)
        await asyncio.sleep(2.0)  # Faust commits every second: nothing of the old log left to commit

        own_tansu.stop()  # memory only: every topic, offset and group is gone
        own_tansu.start()  # same port, empty

        assert first.proc is not None
        try:  # default look interval (5 s), one confirming look, the probe's reconnect
            code = await asyncio.to_thread(first.proc.wait, 60.0)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker went on after the broker reset:\n{first.log()[-3000:]}")
        log = first.log()
        assert code == EXIT_BROKER_RESET, log[-3000:]
        found = [line for line in log.splitlines() if _FOUND in line]
        assert len(found) == 1, log[-3000:]
        assert "ERROR" in found[0]
        assert "topics:" in found[0] or "offsets:" in found[0], found[0]
    finally:
        first.stop()

    second = Worker(own_tansu, topics, tmp_path / "second.log").start()  # creates its topics again
    try:
        await asyncio.to_thread(second.wait_ready, 60.0)
        await _answered(own_tansu, topics, codec, catalogue, seed=4)
        assert second.proc is not None
        assert second.proc.poll() is None
        assert _FOUND not in second.log()
    finally:
        second.stop()


@pytest.mark.parametrize("broker", ["kafka"], indirect=True)
async def test_a_kafka_restart_that_keeps_its_logs_is_not_a_reset(
    broker: Broker, codec: Codec, catalogue: Catalogue, tmp_path: Path
) -> None:
    assert isinstance(broker, KafkaCluster)
    topics = unique_topics("k")
    await create_topics(broker, topics)
    # a look every second, so that the restart is looked at many times
    env = {"CROSSBOUND_KAFKA__RESET_CHECK_INTERVAL_S": "1"}
    worker = Worker(broker, topics, tmp_path / "worker.log", env=env).start()
    try:
        await asyncio.to_thread(worker.wait_ready, 90.0)
        await _answered(broker, topics, codec, catalogue, seed=5)
        await asyncio.to_thread(broker.restart_node, 1)  # SIGTERM, then start on the same log dirs
        await asyncio.sleep(5.0)  # looks while the node settles
        await _answered(broker, topics, codec, catalogue, seed=6)
        assert worker.proc is not None
        assert worker.proc.poll() is None, worker.log()[-3000:]
        await asyncio.to_thread(worker.wait_ready, 60.0)
        assert _FOUND not in worker.log()
        assert "crossbound_broker_reset_found 0.0" in worker.metrics()
    finally:
        worker.stop()


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_publish_to_a_missing_topic_fails_and_creates_nothing(broker: Broker, tmp_path: Path) -> None:
    topic = f"{unique_topics('p').prefix}hk.requests"  # no worker ever created it
    case = Traffic(seed=8).case(SCENARIO, "valid")
    path = tmp_path / "requests.jsonl"
    path.write_text(json.dumps(case.request) + "\n")
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "crossbound", "publish", "--broker", broker.url, "--topic", topic, str(path)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, (out, err)
    assert f"topic {topic!r} does not exist" in err.decode()
    assert topic not in await partition_counts(broker.bootstrap)
