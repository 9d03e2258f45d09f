"""The global ``fingerprints`` table on real workers: two workers find a record only one took in, and a
worker restarted on its RocksDB directory still finds one taken in before.

Requests are partitioned by request id and the two workers share the partitions, so a record taken
in by the worker that reads its registry partition must reach the other through the table's
changelog. The test asks for one registered document on every partition, repeating a request with
a new id while it is still ``FINGERPRINT_NOT_FOUND`` (the other worker may not have read the
changelog yet: eventual, as the README says), until each partition has answered ``ACCEPT``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from pathlib import Path

import pytest

from crossbound.broker import Broker
from crossbound.codec import Codec
from crossbound.pipeline.partitioner import partition_for
from crossbound.rules import Catalogue
from crossbound.testing import fixtures as examples
from crossbound.testing.encoding import encode_fingerprint, encode_request
from crossbound.testing.processes import wait_until_ready
from crossbound.topics import Topics
from support import Bus, Worker, create_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

SID = "sb_personal_credit_report_fingerprint"
PARTITIONS = 4


def _request_on(request: dict[str, object], partition: int, rng: random.Random) -> dict[str, object]:
    """``request`` with a fresh id whose murmur2 partition is ``partition``."""
    while True:
        rid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if partition_for(rid.encode(), PARTITIONS) == partition:
            return {**request, "request_id": rid}


def _stored(metrics: str) -> int:
    lines = [ln for ln in metrics.splitlines() if ln.startswith("crossbound_fingerprints_total{")]
    return sum(int(float(ln.rsplit(" ", 1)[1])) for ln in lines if 'result="stored"' in ln)


async def test_both_workers_find_a_fingerprint_only_one_of_them_took_in(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    tag = os.urandom(4).hex()
    topics = Topics(prefix=f"f{tag}.", app_id=f"fp{tag}")
    await create_topics(broker, topics, PARTITIONS)
    workers = [
        Worker(broker, topics, tmp_path / f"w{i}.log", partitions=PARTITIONS).start() for i in range(2)
    ]
    rng = random.Random(5)
    try:
        for w in workers:
            await asyncio.to_thread(wait_until_ready, w.proc, w.metrics_port, 60.0)  # type: ignore[arg-type]
        fixture = examples.load(SID).fixtures["accept"]
        request, record = examples.refresh_registered(fixture, rng, time.time())
        async with Bus(broker.bootstrap, topics, codec, catalogue) as bus:
            await bus.send(*encode_fingerprint(record, codec, topics))
            answered: dict[int, list[str]] = {p: [] for p in range(PARTITIONS)}
            for partition in range(PARTITIONS):
                for _ in range(200):
                    asked = _request_on(request, partition, rng)
                    await bus.send(*encode_request(asked, codec, catalogue, topics))
                    rid = str(asked["request_id"])
                    await bus.wait_for(lambda rid=rid: rid in bus.verdicts, timeout_s=30, what=rid)
                    outcome = bus.verdicts[rid][0]["outcome"]
                    answered[partition].append(outcome)
                    if outcome == "ACCEPT":
                        break
                    await asyncio.sleep(0.2)
        assert all(outcomes[-1] == "ACCEPT" for outcomes in answered.values()), answered
        assert bus.dead_letters == []
        stored = [_stored(w.metrics()) for w in workers]
        assert sorted(stored) == [0, 1]  # one worker took it in; the other found it all the same
        for w in workers:  # both looked requests up (the verdicts leave from the hop keys' worker)
            assert 'kind="request"' in w.metrics()
    finally:
        for w in workers:
            w.stop()
    for w in workers:
        assert "Traceback" not in w.log()


async def test_a_worker_restarted_on_its_rocksdb_directory_still_finds_the_fingerprint(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    """The global table on ``table_store=rocksdb``: the record taken in before a restart is found after it."""
    tag = os.urandom(4).hex()
    topics = Topics(prefix=f"r{tag}.", app_id=f"rk{tag}")
    await create_topics(broker, topics, PARTITIONS)
    env = {"CROSSBOUND_KAFKA__TABLE_STORE": "rocksdb", "CROSSBOUND_KAFKA__DATA_DIR": str(tmp_path / "data")}
    rng = random.Random(3)
    fixture = examples.load(SID).fixtures["accept"]
    request, record = examples.refresh_registered(fixture, rng, time.time())
    outcomes: list[tuple[int, str]] = []
    for run in range(2):
        worker = Worker(broker, topics, tmp_path / f"w{run}.log", partitions=PARTITIONS, env=env).start()
        try:
            await asyncio.to_thread(wait_until_ready, worker.proc, worker.metrics_port, 60.0)  # type: ignore[arg-type]
            async with Bus(broker.bootstrap, topics, codec, catalogue) as bus:
                if run == 0:
                    await bus.send(*encode_fingerprint(record, codec, topics))
                for _ in range(200):  # before the restart, until the record is taken in
                    asked = _request_on(request, rng.randrange(PARTITIONS), rng)
                    await bus.send(*encode_request(asked, codec, catalogue, topics))
                    rid = str(asked["request_id"])
                    await bus.wait_for(lambda rid=rid: rid in bus.verdicts, timeout_s=30, what=rid)
                    outcomes.append((run, bus.verdicts[rid][0]["outcome"]))
                    if outcomes[-1][1] == "ACCEPT":
                        break
                    await asyncio.sleep(0.2)
        finally:
            worker.stop()
        assert "Traceback" not in worker.log()
    assert [o for o in outcomes if o[0] == 1] == [(1, "ACCEPT")], outcomes  # found at once after the restart
