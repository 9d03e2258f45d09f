"""The RocksDB table store after a SIGKILL: the worker restarted on the same data directory keeps its state.

A payer reaches the day limit of Payment Connect (HKD 10,000) on the first worker, which is then killed;
the second worker, on the same data directory, refuses the payer's next payment (it would be accepted
by a worker that lost the ledger) and tells a duplicate of an answered request by the ``answered`` table
(dead-lettered as ``duplicate_request``, no new attestation request) instead of deciding it again. The
first worker's offsets are committed before the kill, so nothing is redelivered: what the second
worker knows, it knows from its tables.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import rocksdict
from aiokafka import AIOKafkaConsumer, TopicPartition

from crossbound.broker import Broker
from crossbound.codec import Codec
from crossbound.rules import Catalogue
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics
from support import Bus, Worker, create_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(170)]

OFFSET_KEY = b"__faust\0offset__"  # where Faust's RocksDB store keeps the changelog offset it applied


def _ledger_on_disk(data_dir: Path) -> tuple[set[bytes], int]:
    """The ledger keys in the ``quota_usage`` databases, and how many of them hold an applied offset."""
    keys: set[bytes] = set()
    with_offsets = 0
    for path in sorted(data_dir.rglob("quota_usage-*.db")):
        db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True))
        try:
            found = set(db.keys())
        finally:
            db.close()
        with_offsets += OFFSET_KEY in found
        keys |= found - {OFFSET_KEY}
    return keys, with_offsets


async def _wait_committed(bootstrap: str, topics: Topics, timeout_s: float = 30.0) -> None:
    """Until the worker's group has committed every input and hop record written so far.

    Then nothing is redelivered to the next worker: what it answers, it answers from its tables.
    """
    names = [*topics.inputs(), topics.quota]
    # the worker's group id, for its committed offsets only: assigned nothing, it never joins
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=topics.app_id, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(t, p) for t in names for p in range(4)])
        written = {tp: end for tp, end in ends.items() if end > 0}
        assert any(tp.topic == topics.quota for tp in written)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            done = {tp: await consumer.committed(tp) for tp in written}
            if all((done[tp] or 0) >= end for tp, end in written.items()):
                return
            assert asyncio.get_running_loop().time() < deadline, f"not committed: {written} {done}"
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_a_worker_killed_and_restarted_on_its_data_dir_keeps_the_limits_and_the_answers(
    broker: Broker, tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    tag = os.urandom(4).hex()
    topics = Topics(prefix=f"k{tag}.", app_id=f"cbk{tag}")
    await create_topics(broker, topics)
    data_dir = tmp_path / "data"
    env = {"CROSSBOUND_KAFKA__TABLE_STORE": "rocksdb", "CROSSBOUND_KAFKA__DATA_DIR": str(data_dir)}
    payments = Traffic(seed=41).payments_for_one_payer(11, amount="1000")
    assert [c.expected for c in payments] == ["ACCEPT"] * 10 + ["REJECT"]  # the day limit is HKD 10,000
    async with Bus(broker.bootstrap, topics, codec, catalogue) as bus:
        first = Worker(broker, topics, tmp_path / "first.log", env=env).start()
        await asyncio.to_thread(first.wait_ready, 60.0)
        try:
            ids = [await bus.send_case(c) for c in payments[:10]]
            await bus.wait_for(lambda: all(r in bus.verdicts for r in ids), timeout_s=60, what="10 verdicts")
            await _wait_committed(broker.bootstrap, topics)
        finally:
            first.kill()
        assert [[v["outcome"] for v in bus.verdicts[r]] for r in ids] == [["ACCEPT"]] * 10
        ledgers, with_offsets = _ledger_on_disk(data_dir)
        assert [k for k in ledgers if k.startswith(b"payment_connect_northbound|")], ledgers
        assert with_offsets >= 1  # the restart reads the changelog from there, not from its start

        second = Worker(broker, topics, tmp_path / "second.log", env=env).start()
        try:
            await asyncio.to_thread(second.wait_ready, 60.0)
            asked = len(bus.attestation_requests)
            first_verdict = bus.verdicts[ids[0]][0]
            eleventh = await bus.send_case(payments[10])
            await bus.wait_for(lambda: eleventh in bus.verdicts, timeout_s=60, what="the 11th verdict")
            topic, key, value = bus.encode_case(payments[0])
            await bus.send(topic, key, value)  # the first payment published again, byte for byte
            await bus.wait_for(lambda: bus.dead_letters != [], timeout_s=60, what="the duplicate's answer")
        finally:
            second.stop()
    [refused] = bus.verdicts[eleventh]
    assert refused["outcome"] == "REJECT"
    assert "LIMIT_EXCEEDED" in str(refused["findings"])
    # the duplicate is told apart from a new request by the answered table (same id, same body)...
    [(dup_key, dead, _)] = bus.dead_letters
    assert (dup_key, dead["reason"]) == (key, "duplicate_request")
    # ...not decided again: no new attestation request for it, no second verdict
    assert len(bus.attestation_requests) == asked + 1  # the eleventh payment's
    assert bus.verdicts[ids[0]] == [first_verdict]  # (committed before the kill: nothing redelivered)
    assert "Traceback" not in second.log(), second.log()[-3000:]
