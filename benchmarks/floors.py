"""The two references bench.py measures the pipeline against: a bare aiokafka passthrough (the ceiling)
and the Faust floor (benchmarks/faust_floor.py: the least a Faust agent shaped like crossbound's does).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from crossbound.broker import Broker, ensure_topics
from crossbound.testing.processes import stop_process

PARTITIONS = 4


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of process ``pid`` so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def passthrough(bootstrap: str, n: int) -> float:
    src, dst = f"bench-src-{uuid.uuid4().hex[:6]}", f"bench-dst-{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, {src: PARTITIONS, dst: PARTITIONS})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=262_144)
    await producer.start()
    value = os.urandom(150).hex().encode()  # 300 bytes
    for i in range(n):
        await producer.send(src, value=value, key=str(i).encode())
    await producer.flush()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024
    )
    await consumer.start()
    tps = [TopicPartition(src, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    seen = 0
    start = time.perf_counter()
    while seen < n:
        batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
        for messages in batch.values():
            for msg in messages:
                await producer.send(dst, value=msg.value, key=msg.key, partition=msg.partition)
            seen += len(messages)
    await producer.flush()
    elapsed = time.perf_counter() - start
    await consumer.stop()
    await producer.stop()
    return n / elapsed


def _start_floor(
    script: Path, engine: str, bootstrap: str, src: str, dst: str, app_id: str, log: Path, tuned: bool
) -> Any:
    cmd = [sys.executable, str(script), bootstrap, src, dst, app_id, "--engine", engine]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*cmd, *(["--tuned"] if tuned else [])],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def faust_floor_phase(
    broker: Broker, values: list[tuple[bytes, bytes]], *, tuned: bool = False
) -> tuple[float, float]:
    """The same backlog through benchmarks/faust_floor.py: table write + send per record, nothing else.

    ``tuned``: with the worker's Faust speed-ups (``FAUST_SPEEDUPS``); else with Faust's defaults.
    Returns (records/s, worker CPU us per record), measured from the first output to the last.
    """
    tag = uuid.uuid4().hex[:6]
    src, dst = f"floor-src-{tag}", f"floor-dst-{tag}"
    await ensure_topics(broker.bootstrap, {src: PARTITIONS, dst: PARTITIONS})
    script = Path(__file__).with_name("faust_floor.py")
    log = Path(tempfile.mkdtemp(prefix="crossbound-floor-")) / "floor.log"
    proc = _start_floor(script, broker.engine, broker.bootstrap, src, dst, f"floor{tag}", log, tuned)
    try:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5, max_batch_size=262_144)
        await producer.start()
        for key, value in values:
            await producer.send(src, value=value, key=key)
        await producer.flush()
        await producer.stop()
        consumer = AIOKafkaConsumer(dst, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        stamps: list[int] = []
        cpu0: tuple[float, int] | None = None
        end = time.monotonic() + 600
        while len(stamps) < len(values) and time.monotonic() < end:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for messages in batch.values():
                stamps.extend(m.timestamp for m in messages)
            if stamps and cpu0 is None:
                cpu0 = (cpu_seconds(proc.pid), len(stamps))
        cpu_end = cpu_seconds(proc.pid)
        await consumer.stop()
    finally:
        stop_process(proc)
    if cpu0 is None or len(stamps) < len(values):
        raise SystemExit(f"the Faust floor delivered {len(stamps)} of {len(values)}; log: {log}")
    stamps.sort()
    rate = (len(stamps) - 1) / max(1e-9, (stamps[-1] - stamps[0]) / 1000)
    return rate, (cpu_end - cpu0[0]) / max(1, len(values) - cpu0[1]) * 1e6
