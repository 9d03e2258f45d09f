"""Duplicates and losses after a SIGKILL, per delivery mode, on a one-node Apache Kafka.

For each mode (``--delivery at_least_once``, ``exactly_once``), on fresh topics created as the worker
creates them for one node:

1. start a worker, wait until it is ready;
2. publish request-only requests (rejected at the request stage: one verdict each) at a paced rate;
3. SIGKILL the worker's process group midway, start a new worker at once;
4. wait until every request has a verdict (read_committed), plus a short settle;
5. count the verdict topics from the beginning with ``read_committed`` and ``read_uncommitted``:
   requests, distinct answered, unanswered, duplicates (records beyond the first per request id).

One line per mode, then one JSON line.

    python benchmarks/delivery.py [--requests N] [--rate R] [--modes at_least_once,exactly_once]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.broker import ensure_topics
from crossbound.broker.kafka import KafkaCluster
from crossbound.broker.net import free_port
from crossbound.broker.topicspec import topic_specs
from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import load_catalogue
from crossbound.settings import Settings
from crossbound.testing.live import LiveBus
from crossbound.testing.processes import start_worker_process, stop_process, wait_until_ready
from crossbound.testing.traffic import Traffic
from crossbound.topics import SIDES, Topics

PARTITIONS = 4
SCENARIO = "sb_corporate_credit_report"


async def count_verdicts(bootstrap: str, topics: Topics, isolation: str) -> Counter[bytes]:
    """Verdict records per request id (the record key), every partition from the beginning."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level=isolation
    )
    await consumer.start()
    counts: Counter[bytes] = Counter()
    try:
        tps = [TopicPartition(topics.verdicts(s), p) for s in SIDES for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)  # the last stable offset under read_committed
        idle = 0
        while idle < 2:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            got = sum(len(m) for m in batch.values())
            for messages in batch.values():
                for msg in messages:
                    counts[msg.key] += 1
            done = all(await asyncio.gather(*(_at_end(consumer, tp, end[tp]) for tp in tps)))
            idle = idle + 1 if (got == 0 and done) else 0
    finally:
        await consumer.stop()
    return counts


async def _at_end(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int) -> bool:
    return await consumer.position(tp) >= end


def summary(keys: list[bytes], counts: Counter[bytes]) -> dict[str, int]:
    wanted = set(keys)
    answered = sum(1 for k in wanted if counts.get(k, 0) > 0)
    return {
        "requests": len(wanted),
        "answered": answered,
        "unanswered": len(wanted) - answered,
        "duplicates": sum(max(0, counts[k] - 1) for k in wanted),
        "records": sum(counts.values()),
    }


async def run_mode(
    kafka: KafkaCluster, codec: Codec, catalogue: Any, mode: str, n: int, rate: float, log_dir: Path
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    topics = Topics(prefix=f"dl{tag}.", app_id=f"dl{tag}")
    settings = Settings().single_node()
    await ensure_topics(kafka.bootstrap, topic_specs(topics, settings.topic_settings(), PARTITIONS))
    extra = ["--replication-factor", "1", "--delivery", mode, "--app-id", topics.app_id]
    extra += ["--topic-prefix", topics.prefix, "--partitions", str(PARTITIONS), "--attestation-timeout", "30"]

    def start(i: int) -> tuple[Any, int]:
        port = free_port()
        log = log_dir / f"{mode}-{i}.log"
        proc = start_worker_process(kafka.url, metrics_port=port, log_path=log, tansu=False, extra=extra)
        return proc, port

    first, port = start(1)
    await asyncio.to_thread(wait_until_ready, first, port, 120.0)
    traffic = Traffic(seed=11)
    cases = [traffic.case(SCENARIO, "invalid") for _ in range(n)]
    second = None
    t_kill = t_done = 0.0
    async with LiveBus(kafka.bootstrap, topics, codec, catalogue) as bus:
        records = [bus.encode_case(case) for case in cases]
        keys = [key for _, key, _ in records]
        start_t = time.perf_counter()
        killed = False
        for i, (topic, key, value) in enumerate(records):
            delay = start_t + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await bus.send(topic, key, value)
            if not killed and i >= n // 2:
                await bus.producer.flush()
                os.killpg(first.pid, signal.SIGKILL)
                first.wait(10)
                killed, t_kill = True, time.perf_counter()
                second, _ = start(2)
        await bus.producer.flush()
        assert second is not None
        deadline = time.monotonic() + 180
        while True:
            got = summary(keys, await count_verdicts(kafka.bootstrap, topics, "read_committed"))
            if got["unanswered"] == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        t_done = time.perf_counter()
        await asyncio.sleep(3)  # a commit interval or two: let the last transactions settle
    committed = summary(keys, await count_verdicts(kafka.bootstrap, topics, "read_committed"))
    uncommitted = summary(keys, await count_verdicts(kafka.bootstrap, topics, "read_uncommitted"))
    stop_process(second)
    logs = "".join((log_dir / f"{mode}-{i}.log").read_text(errors="replace") for i in (1, 2))
    return {
        "mode": mode,
        "read_committed": committed,
        "read_uncommitted": uncommitted,
        "kill_to_all_answered_s": round(t_done - t_kill, 1),
        "log_tracebacks": logs.count("Traceback"),
        "log_illegal_operation": logs.count("IllegalOperation"),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    codec = Codec(SchemaRegistry.load(default_schemas_dir()))
    catalogue = load_catalogue(default_rulesets_dir(), codec.registry)
    log_dir = Path(tempfile.mkdtemp(prefix="crossbound-delivery-"))
    results = []
    with KafkaCluster(1) as kafka:
        print(f"kafka {kafka.url}, worker logs in {log_dir}", flush=True)
        for mode in args.modes.split(","):
            r = await run_mode(kafka, codec, catalogue, mode, args.requests, args.rate, log_dir)
            c, u = r["read_committed"], r["read_uncommitted"]
            print(
                f"{mode}: {c['requests']} requests, SIGKILL at {args.requests // 2}; read_committed: "
                f"{c['answered']} answered, {c['unanswered']} unanswered, {c['duplicates']} duplicates; "
                f"read_uncommitted: {u['answered']} answered, {u['duplicates']} duplicates; "
                f"all answered {r['kill_to_all_answered_s']} s after the kill; "
                f"tracebacks in logs {r['log_tracebacks']}",
                flush=True,
            )
            results.append(r)
    return {"requests": args.requests, "rate_per_s": args.rate, "partitions": PARTITIONS, "modes": results}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--modes", default="at_least_once,exactly_once")
    figures = asyncio.run(main(parser.parse_args()))
    print(json.dumps(figures, sort_keys=True))
    sys.exit(0)
