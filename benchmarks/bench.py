"""crossbound benchmark: every phase on each broker engine in turn; the last line is one JSON object.

Each engine (``--engines tansu,kafka``, the default: the embedded Tansu, then a one-node Apache Kafka)
gets a broker of its own, started fresh, and the same phases (each on its own topics):

1. passthrough: a bare aiokafka consume -> produce loop over preloaded keyed 300-byte records, each
   forwarded with its key to the same partition (the ceiling);
   then the Faust floor: the request-only records through benchmarks/faust_floor.py, an agent shaped
   like crossbound's (batches, one table write and one send per record) that decodes nothing;
2. request-only: requests rejected at the request stage (no attestation), one worker process;
3. attested: valid requests whose data holders answer at once (this script plays them), one worker;
   then request-only again with two worker processes in one consumer group (horizontal scaling);
4. latency: attested requests at a paced rate; latency = request created_at -> verdict decided_at.

The workers are started and ready before the backlog is published at full speed; throughput is
measured from the verdicts' own ``decided_at`` stamps (first to last), so start-up is not counted.
Worker CPU per verdict comes from psutil (user + system), over the same span.

The Tansu client workarounds (``crossbound.broker.compat``) are on for the Tansu part only: in this
process (the bench's own consumers), in the workers and in the Faust floor; they are removed before
the Kafka part, whose workers use Kafka's default session timeout.

Human-readable lines start with ``[engine]``. The last line is
``{"tansu": {...}, "kafka": {...}, "ratios": {"kafka_over_tansu": {...}}, "run": {...}}``: per engine
the figures (and the counts they were measured with), the Kafka/Tansu ratio of every figure both
engines have (when both ran), and the run's CPUs, engines and wall-clock seconds.

    python benchmarks/bench.py [--engines tansu,kafka] [--passthrough N] [--requests N] [--attested N]
                               [--rate R] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.broker import (
    ENGINES,
    Broker,
    apply_tansu_workarounds,
    ensure_topics,
    make_broker,
    remove_tansu_workarounds,
    tansu_workarounds_applied,
)
from crossbound.broker.net import free_port
from crossbound.broker.topicspec import topic_specs
from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import load_catalogue
from crossbound.settings import Settings
from crossbound.testing.live import LiveBus
from crossbound.testing.processes import start_worker_process, stop_process, wait_until_ready
from crossbound.testing.stats import percentile
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics

SCENARIOS = ("sb_corporate_credit_report", "nb_hk_resident_consumer_credit", "payment_connect_northbound")
PARTITIONS = 4

#: Extra ``crossbound worker`` arguments per engine. Both brokers here are one node: replication factor 1
#: (the worker lowers it by itself on Tansu).
WORKER_ARGS: dict[str, list[str]] = {"tansu": [], "kafka": ["--replication-factor", "1"]}

#: Figures that are not measurements (no Kafka/Tansu ratio).
_NOT_RATIOS = frozenset({"counts", "latency_rate_per_s", "wall_s"})


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


class Phase:
    """Worker processes (one consumer group) on fresh topics, and the bench's institutions and holders."""

    def __init__(self, broker: Broker, codec: Codec, catalogue: Any, name: str, workers: int = 1) -> None:
        tag = uuid.uuid4().hex[:6]
        self.broker = broker
        self.codec = codec
        self.catalogue = catalogue
        self.topics = Topics(prefix=f"{name}{tag}.", app_id=f"bench{tag}")
        self.log_dir = Path(tempfile.mkdtemp(prefix="crossbound-bench-"))
        self.workers_wanted = workers
        self.workers: list[Any] = []
        self.cpu_at_first: tuple[float, int] | None = None  # (worker CPU seconds, verdicts) at first verdict
        self.bus = LiveBus(broker.bootstrap, self.topics, codec, catalogue, on_verdict=self._on_verdict)

    def _on_verdict(self) -> None:
        if self.cpu_at_first is None:
            self.cpu_at_first = (self.cpu(), len(self.bus.verdicts))

    async def start_workers(self) -> None:
        """Start the worker processes and wait until every one is ready (partitions assigned)."""
        # as the worker creates them on one node (it checks their replicas and configs at start-up)
        specs = topic_specs(self.topics, Settings().single_node().topic_settings(), PARTITIONS)
        await ensure_topics(self.broker.bootstrap, specs)
        ports = []
        for i in range(self.workers_wanted):
            ports.append(free_port())
            extra = ["--app-id", self.topics.app_id, "--topic-prefix", self.topics.prefix]
            extra += ["--attestation-timeout", "30", *WORKER_ARGS[self.broker.engine]]
            log = self.log_dir / f"worker{i}.log"
            tansu = self.broker.engine == "tansu"
            self.workers.append(
                start_worker_process(
                    self.broker.url, metrics_port=ports[-1], log_path=log, tansu=tansu, extra=extra
                )
            )
        for proc, port in zip(self.workers, ports, strict=True):
            await asyncio.to_thread(wait_until_ready, proc, port, 90.0)

    def cpu(self) -> float:
        """CPU seconds used so far by all worker processes."""
        return sum(cpu_seconds(p.pid) for p in self.workers)

    def stop(self) -> None:
        for proc in self.workers:
            stop_process(proc)

    def verdicts(self) -> list[dict[str, Any]]:
        return [copies[0] for copies in self.bus.verdicts.values()]

    def rate(self) -> float:
        stamps: list[float] = sorted(v["decided_at"].timestamp() for v in self.verdicts())
        return (len(stamps) - 1) / max(1e-9, stamps[-1] - stamps[0])


async def backlog_phase(phase: Phase, cases: list[Any]) -> tuple[float, float]:
    """Start the workers, wait until ready, publish a backlog at full speed, drain it.

    Returns (verdicts/s, worker CPU us per verdict), both measured from the first verdict to the last.
    """
    await phase.start_workers()
    try:
        async with phase.bus as bus:
            records = [bus.encode_case(case) for case in cases]
            for topic, key, value in records:
                await bus.send(topic, key, value)
            await bus.wait_for(lambda: len(bus.verdicts) >= len(cases), timeout_s=600, what="the backlog")
            cpu_end = phase.cpu()
    finally:
        phase.stop()
    assert phase.cpu_at_first is not None
    cpu0, n0 = phase.cpu_at_first
    return phase.rate(), (cpu_end - cpu0) / max(1, len(cases) - n0) * 1e6


async def latency_phase(
    phase: Phase, traffic: Traffic, rate: float, seconds: float
) -> tuple[list[float], float]:
    """Attested requests at a paced rate, each stamped created_at when sent; latency to decided_at.

    Returns the latencies (ms) and the drain: seconds from the last request sent to the last verdict
    decided. A drain well over the p99 means the pipeline did not keep up with the rate: the latencies
    then measure a queue, not the pipeline.
    """
    await phase.start_workers()
    n = int(rate * seconds)
    cases = [traffic.case(SCENARIOS[i % 3], "valid") for i in range(n + 1)]
    try:
        async with phase.bus as bus:
            # warm-up: one request and its verdict, so nothing cold is in the measured latencies
            await bus.send(*bus.encode_case(cases[0], int(time.time() * 1000)))
            await bus.wait_for(lambda: len(bus.verdicts) == 1, timeout_s=60, what="the warm-up verdict")
            start = time.perf_counter()
            for i, case in enumerate(cases[1:]):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await bus.send(*bus.encode_case(case, int(time.time() * 1000)))
            sent_end = time.time()
            await bus.wait_for(lambda: len(bus.verdicts) >= n + 1, timeout_s=120, what="the paced load")
    finally:
        phase.stop()
    warm = cases[0].request_id
    latencies = [
        (v["decided_at"] - v["request_created_at"]).total_seconds() * 1000
        for v in phase.verdicts()
        if v["request_id"] != warm
    ]
    drain = max(v["decided_at"].timestamp() for v in phase.verdicts()) - sent_end
    return latencies, max(0.0, drain)


def _start_floor(
    script: Path, engine: str, bootstrap: str, src: str, dst: str, app_id: str, log: Path
) -> Any:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, str(script), bootstrap, src, dst, app_id, "--engine", engine],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def faust_floor_phase(broker: Broker, values: list[tuple[bytes, bytes]]) -> tuple[float, float]:
    """The same backlog through benchmarks/faust_floor.py: table write + send per record, nothing else.

    Returns (records/s, worker CPU us per record), measured from the first output to the last.
    """
    tag = uuid.uuid4().hex[:6]
    src, dst = f"floor-src-{tag}", f"floor-dst-{tag}"
    await ensure_topics(broker.bootstrap, {src: PARTITIONS, dst: PARTITIONS})
    script = Path(__file__).with_name("faust_floor.py")
    log = Path(tempfile.mkdtemp(prefix="crossbound-floor-")) / "floor.log"
    proc = _start_floor(script, broker.engine, broker.bootstrap, src, dst, f"floor{tag}", log)
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


async def measure_engine(
    engine: str, args: argparse.Namespace, codec: Codec, catalogue: Any, traffic: Traffic
) -> dict[str, Any]:
    """Every phase on one fresh broker of ``engine``; the figures, keyed as in the JSON line."""

    def say(text: str) -> None:
        print(f"[{engine}] {text}", flush=True)

    began = time.monotonic()
    with make_broker(engine) as broker:
        say(f"broker {broker.url} ({time.monotonic() - began:.1f} s to start); {os.cpu_count()} CPUs")
        bare = await passthrough(broker.bootstrap, args.passthrough)
        say(f"passthrough (bare aiokafka consume->produce, {args.passthrough} x 300 B): {bare:,.0f} msg/s")

        phase = Phase(broker, codec, catalogue, "ro")
        cases = [traffic.case(SCENARIOS[i % 3], "invalid") for i in range(args.requests)]
        floor_values = [phase.bus.encode_case(c)[1:] for c in cases]
        floor_rate, floor_cpu = await faust_floor_phase(broker, floor_values)
        say(
            f"Faust floor (same records; take_events + one table write + one send, no decoding or rules): "
            f"{floor_rate:,.0f} records/s, {floor_rate / bare:.1%} of passthrough, "
            f"worker CPU {floor_cpu:.0f} us/record"
        )
        ro_rate, ro_cpu = await backlog_phase(phase, cases)
        say(
            f"request-only ({args.requests} rejected at the request stage): {ro_rate:,.0f} verdicts/s, "
            f"{ro_rate / bare:.1%} of passthrough, {ro_rate / floor_rate:.0%} of the Faust floor, "
            f"worker CPU {ro_cpu:.0f} us/verdict"
        )

        phase = Phase(broker, codec, catalogue, "at")
        cases = [traffic.case(SCENARIOS[i % 3], "valid") for i in range(args.attested)]
        at_rate, at_cpu = await backlog_phase(phase, cases)
        outcomes = {
            o: sum(v["outcome"] == o for v in phase.verdicts()) for o in ("ACCEPT", "REVIEW", "REJECT")
        }
        say(
            f"attested ({args.attested} valid, data holders answering): {at_rate:,.0f} verdicts/s, "
            f"{at_rate / bare:.1%} of passthrough, worker CPU {at_cpu:.0f} us/verdict, outcomes {outcomes}"
        )

        phase = Phase(broker, codec, catalogue, "r2", workers=2)
        cases = [traffic.case(SCENARIOS[i % 3], "invalid") for i in range(args.requests)]
        ro2_rate, ro2_cpu = await backlog_phase(phase, cases)
        say(
            f"request-only, 2 worker processes in one group: {ro2_rate:,.0f} verdicts/s "
            f"({ro2_rate / ro_rate:.2f}x one worker), worker CPU {ro2_cpu:.0f} us/verdict"
        )

        phase = Phase(broker, codec, catalogue, "lt")
        lat, drain = await latency_phase(phase, traffic, args.rate, args.seconds)
        p50, p99, mean = percentile(lat, 0.5), percentile(lat, 0.99), statistics.fmean(lat)
        say(
            f"latency (attested, {args.rate:g}/s for {args.seconds:g} s, created_at -> decided_at): "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, mean {mean:.1f} ms; last verdict {drain:.2f} s after "
            f"the last request"
            + (
                " (SATURATED: it did not keep up with the rate; the latencies measure a queue)"
                if drain > 1
                else ""
            )
        )
    wall = time.monotonic() - began
    say(f"done in {wall:.0f} s")
    return {
        "passthrough_msgs_per_s": round(bare),
        "request_only_verdicts_per_s": round(ro_rate),
        "attested_verdicts_per_s": round(at_rate),
        "request_only_ratio": round(ro_rate / bare, 4),
        "attested_ratio": round(at_rate / bare, 4),
        "request_only_worker_cpu_us_per_verdict": round(ro_cpu),
        "request_only_2_workers_verdicts_per_s": round(ro2_rate),
        "faust_floor_records_per_s": round(floor_rate),
        "faust_floor_worker_cpu_us_per_record": round(floor_cpu),
        "attested_worker_cpu_us_per_verdict": round(at_cpu),
        "latency_ms_p50": round(p50, 1),
        "latency_ms_p99": round(p99, 1),
        "latency_ms_mean": round(mean, 1),
        "latency_rate_per_s": args.rate,
        "latency_drain_s": round(drain, 2),
        "wall_s": round(wall),
        "counts": {"passthrough": args.passthrough, "request_only": args.requests, "attested": args.attested},
    }


def ratios(over: dict[str, Any], under: dict[str, Any]) -> dict[str, float]:
    """``over / under`` for every measured figure both have."""
    return {
        key: round(over[key] / under[key], 3)
        for key in sorted(over.keys() & under.keys() - _NOT_RATIOS)
        if under[key]
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    codec = Codec(SchemaRegistry.load(default_schemas_dir()))
    catalogue = load_catalogue(default_rulesets_dir(), codec.registry)
    traffic = Traffic(seed=2026)
    began = time.monotonic()
    figures: dict[str, Any] = {}
    for engine in args.engines:
        # this process's own consumers talk to the broker too: the workarounds for Tansu only
        if engine == "tansu":
            apply_tansu_workarounds()
        else:
            remove_tansu_workarounds()
        try:
            figures[engine] = await measure_engine(engine, args, codec, catalogue, traffic)
        finally:
            remove_tansu_workarounds()
        assert not tansu_workarounds_applied()
    if "tansu" in figures and "kafka" in figures:
        figures["ratios"] = {"kafka_over_tansu": ratios(figures["kafka"], figures["tansu"])}
    figures["run"] = {
        "engines": list(args.engines),
        "cpus": os.cpu_count(),
        "wall_s": round(time.monotonic() - began),
    }
    return figures


def engines_arg(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if not names or unknown or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"a comma-separated list of distinct engines from {', '.join(ENGINES)}, got {text!r}"
        )
    return names


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--engines",
        type=engines_arg,
        default=list(ENGINES),
        help=f"broker engines to measure, in order (default {','.join(ENGINES)})",
    )
    parser.add_argument("--passthrough", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--attested", type=int, default=15_000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    figures = asyncio.run(main(parser.parse_args()))
    print(json.dumps(figures, sort_keys=True))
    sys.exit(0)
