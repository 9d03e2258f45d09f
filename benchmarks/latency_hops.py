"""Where an attested request's latency goes on Kafka: p50/p99 of every hop at fixed rates, from one run.

One fresh one-node Kafka; per rate (``--rates 50,150,287``; ``half`` is half of an attested peak
measured first with ``--attested N`` requests) a worker on fresh topics whose every topic stamps its
records with the broker's append time (``message.timestamp.type=LogAppendTime``), the worker's debug
stamps on (``CROSSBOUND_DEBUG_HOP_TIMES``, :mod:`crossbound.runtime.hoptimes`: when each event's batch
was handed to the agent, when its outputs were sent, when its batch was settled), and the bench's own
consumers stamping what they receive. After the paced load every topic is read back, and each request
is followed through its records:

    created_at (bench) -> request appended (broker) -> worker pass 1 (batch yielded, outputs sent)
    -> attestation request appended -> holder (bench) received it -> attestation appended
    -> worker pass 2 (batch yielded; decided_at) -> verdict appended -> bench received the verdict

Every segment's p50/p99 is printed, with the agents' batch sizes and cycle times, and the event
loop's lag in the worker and in the bench (a 5 ms sleep probe, each run; how much of each second the
loop was late). ``--env NAME=VALUE`` (repeatable) runs the workers under other settings;
``--before NAME=VALUE`` runs each rate first with those too: a before/after in one run.

    python benchmarks/latency_hops.py [--rates 50,150,half] [--seconds S] [--warmup S] [--attested N]
                                      [--env NAME=VALUE ...] [--before NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import dataclasses
import itertools
import math
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from bench import SCENARIOS, Phase, backlog_phase
from histogram import tail_percentiles
from paced import paced_cases, send_paced, warm_up

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.broker import ensure_topics, make_broker, remove_tansu_workarounds
from crossbound.broker.topicspec import topic_specs
from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import load_catalogue
from crossbound.runtime.hoptimes import ENV
from crossbound.settings import Settings
from crossbound.testing.live import LiveBus
from crossbound.testing.traffic import Traffic
from crossbound.topics import SIDES

APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}


class StampedBus(LiveBus):
    """The bench's bus, noting when each record reached its consumers (time.time())."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: dict[tuple[str, int, int], float] = {}

    async def _consume(self, topics: list[str]) -> AsyncIterator[Any]:
        async for msg in super()._consume(topics):
            self.seen[(msg.topic, msg.partition, msg.offset)] = time.time()
            yield msg


async def loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    """How late each 5 ms sleep of this process's loop woke (seconds), while ``stop`` is unset."""
    while not stop.is_set():
        asked = time.monotonic()
        await asyncio.sleep(0.005)
        lags.append(time.monotonic() - asked - 0.005)


async def read_back(
    bootstrap: str, topics: list[str], partitions: int, codec: Codec
) -> dict[tuple[str, int, int], Any]:
    """Every record of ``topics``: (topic, partition, offset) -> (append time s, request id, type)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: dict[tuple[str, int, int], Any] = {}
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        left = {tp for tp in tps if ends[tp] > 0}
        while left:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for tp, messages in batch.items():
                for msg in messages:
                    rid = codec.decode(msg.value)[1].get("request_id")
                    out[(msg.topic, msg.partition, msg.offset)] = (
                        msg.timestamp / 1000,
                        rid,
                        msg.timestamp_type,
                    )
                    if msg.offset + 1 >= ends[tp]:
                        left.discard(tp)
    finally:
        await consumer.stop()
    return out


class ConsumerPath:
    """The worker's consumer stamps: the ``Q``, ``F``, ``G`` and ``P`` lines of
    :mod:`crossbound.runtime.hoptimes`."""

    def __init__(self) -> None:
        self.fetches: list[tuple[float, float, bool]] = []  # (sent, answered, brought records)
        self.parsed: dict[tuple[str, int], list[tuple[int, int, float, float]]] = defaultdict(list)
        self.got: dict[tuple[str, int], list[tuple[int, int, float]]] = defaultdict(list)
        self.processed: dict[tuple[str, int, int], float] = {}
        self.collections: list[tuple[float, float, int]] = []  # (ended, took s, generation)

    def add(self, parts: list[str]) -> None:
        kind = parts[0]
        if kind == "Q":
            self.fetches.append((float(parts[1]), float(parts[2]), parts[3] == "1"))
        elif kind == "F":
            first, last = int(parts[3]), int(parts[4])
            self.parsed[(parts[1], int(parts[2]))].append((first, last, float(parts[5]), float(parts[6])))
        elif kind == "G":
            first, last = int(parts[3]), int(parts[4])
            self.got[(parts[1], int(parts[2]))].append((first, last, float(parts[5])))
        elif kind == "C":
            self.collections.append((float(parts[1]), float(parts[2]), int(parts[3])))
        elif kind == "P":
            self.processed.setdefault((parts[1], int(parts[2]), int(parts[3])), float(parts[4]))

    def of(self, coords: tuple[str, int, int]) -> tuple[float, float, float, float] | None:
        """(parsed, drained, got, processed) of the record at ``coords``: its first delivery."""
        tp, offset = (coords[0], coords[1]), coords[2]
        parsed = next(((p, d) for a, b, p, d in self.parsed.get(tp, ()) if a <= offset <= b), None)
        got = next((g for a, b, g in self.got.get(tp, ()) if a <= offset <= b), None)
        processed = self.processed.get(coords)
        if parsed is None or got is None or processed is None:
            return None
        return parsed[0], parsed[1], got, processed

    def in_flight(self, at: float) -> bool:
        """Whether a fetch request was waiting at the broker at time ``at`` (one broker: one at a time)."""
        i = bisect.bisect_right(self.fetches, (at, math.inf, True)) - 1
        return i >= 0 and at < self.fetches[i][1]

    def next_sent(self, at: float) -> float | None:
        i = bisect.bisect_left(self.fetches, (at, -math.inf, False))
        return self.fetches[i][0] if i < len(self.fetches) else None


def worker_lines(
    path: Path,
) -> tuple[dict[tuple[str, int, int], tuple[float, ...]], list[tuple[float, float]], ConsumerPath]:
    """The worker's debug stamps: events (yielded, sent, settled, batch size), loop lags, and the
    consumer's path."""
    events: dict[tuple[str, int, int], tuple[float, ...]] = {}
    lags: list[tuple[float, float]] = []
    path_stamps = ConsumerPath()
    if not path.exists():
        return events, lags, path_stamps
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts[0] == "E":
            events[(parts[1], int(parts[2]), int(parts[3]))] = tuple(float(x) for x in parts[4:])
        elif parts[0] == "L":
            lags.append((float(parts[1]), float(parts[2])))
        else:
            path_stamps.add(parts)
    path_stamps.fetches.sort()
    return events, lags, path_stamps


INPUT_WAIT = (
    "appended -> fetch answered and parsed (consumer thread)",
    "parsed -> drained by the thread's getmany",
    "drained -> main loop got the records (thread crossing)",
    "main loop got -> stream processor (conductor, channel)",
    "stream processor -> take_events yielded (batch buffer)",
    "TOTAL appended -> take_events yielded",
)


def input_wait(
    records: dict[tuple[str, int, int], Any],
    events: dict[tuple[str, int, int], Any],
    consumer: ConsumerPath,
    warm: set[str],
) -> tuple[dict[str, list[float]], str]:
    """The worker's input wait (every followed input record: requests, attestations, quota hops) in
    its steps (ms), and how often a record's append found no fetch request waiting at the broker."""
    segs: dict[str, list[float]] = {name: [] for name in INPUT_WAIT}
    idle, waits = 0, []
    for coords, stamp in events.items():
        rec = records.get(coords)
        if rec is None or rec[1] in warm:
            continue
        steps = consumer.of(coords)
        if steps is None:
            continue
        appended = rec[0]
        times = [appended, *steps, stamp[0]]
        for name, a, b in zip(INPUT_WAIT, times, times[1:], strict=False):
            segs[name].append((b - a) * 1000)
        segs[INPUT_WAIT[-1]].append((stamp[0] - appended) * 1000)
        if not consumer.in_flight(appended):
            idle += 1
            nxt = consumer.next_sent(appended)
            if nxt is not None:
                waits.append((nxt - appended) * 1000)
    fetches = consumer.fetches
    answered = [(b - a) * 1000 for a, b, _ in fetches]
    gaps = [(n[0] - p[1]) * 1000 for p, n in itertools.pairwise(fetches)]
    note = (
        f"{len(fetches)} fetch requests (sent -> answered {_p(answered)} ms; answered -> next sent "
        f"{_p(gaps)} ms); {idle} of {len(segs[INPUT_WAIT[0]])} records appended with no fetch waiting "
        f"(append -> next fetch sent {_p(waits)} ms)"
    )
    return segs, note


SEGMENTS = (
    "created -> request appended",
    "request appended -> worker took its batch",
    "worker took -> attestation request sent (pass 1)",
    "sent -> attestation request appended",
    "appended -> holder (bench) received it",
    "holder received -> attestation appended",
    "attestation appended -> worker took its batch",
    "worker took -> decided_at (pass 2, quota hops included)",
    "decided_at -> verdict appended",
    "verdict appended -> bench received it",
    "TOTAL created -> decided_at (the bench's latency)",
    "TOTAL created -> bench received the verdict",
)


def follow(
    bus: StampedBus,
    records: dict[tuple[str, int, int], Any],
    events: dict[tuple[str, int, int], Any],
    warm: set[str],
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each request's segments (ms), by segment; and the quota-hop requests' hop part."""
    topics = bus.topics
    kind_of = {topics.requests(s): "req" for s in SIDES}
    kind_of |= {topics.attestation_requests(s): "areq" for s in SIDES}
    kind_of |= {topics.attestations(s): "att" for s in SIDES}
    kind_of |= {topics.verdicts(s): "ver" for s in SIDES}
    kind_of[topics.quota] = "hop"
    by_rid: dict[str, dict[str, list[tuple[tuple[str, int, int], float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for coords, (appended, rid, _) in records.items():
        kind = kind_of.get(coords[0])
        if kind and rid and rid not in warm:
            by_rid[rid][kind].append((coords, appended))
    segs: dict[str, list[float]] = {name: [] for name in SEGMENTS}
    hops: dict[str, list[float]] = {"quota hops (pass 2 sent -> last hop taken)": []}
    timeline.clear()
    for rid, kinds in by_rid.items():
        verdicts = bus.verdicts.get(rid)
        if not verdicts or not all(kinds.get(k) for k in ("req", "areq", "att", "ver")):
            continue
        v = verdicts[0]
        created = v["request_created_at"].timestamp()
        decided = v["decided_at"].timestamp()
        (req, req_at), (areq, areq_at) = kinds["req"][0], kinds["areq"][0]
        (att, att_at), (ver, ver_at) = kinds["att"][0], kinds["ver"][0]
        w1, w2 = events.get(req), events.get(att)
        got, seen = bus.seen.get(areq), bus.seen.get(ver)
        if w1 is None or w2 is None or got is None or seen is None:
            continue
        stamps = [created, req_at, w1[0], w1[1], areq_at, got, att_at, w2[0], decided, ver_at, seen]
        for name, a, b in zip(SEGMENTS, stamps, stamps[1:], strict=False):
            segs[name].append((b - a) * 1000)
        segs[SEGMENTS[-2]].append((decided - created) * 1000)
        timeline.append((created, (decided - created) * 1000))
        segs[SEGMENTS[-1]].append((seen - created) * 1000)
        taken = [events[c][0] for c, _ in kinds.get("hop", []) if c in events]
        if taken:
            hops["quota hops (pass 2 sent -> last hop taken)"].append((max(taken) - w2[1]) * 1000)
    return segs, hops


#: (created_at, created -> decided_at ms) of every request followed by the last :func:`follow`
timeline: list[tuple[float, float]] = []


def by_second() -> str:
    """The bench's latency p50/max per second of the run: whether the tail is in some seconds only."""
    if not timeline:
        return "n/a"
    first = min(t for t, _ in timeline)
    seconds: dict[int, list[float]] = defaultdict(list)
    for t, ms in timeline:
        seconds[int(t - first)].append(ms)
    return ", ".join(f"{s}: {tail_percentiles(v)[0]:.0f}/{max(v):.0f}" for s, v in sorted(seconds.items()))


def agent_cycles(
    events: dict[tuple[str, int, int], Any], bus: StampedBus
) -> dict[str, dict[str, list[float]]]:
    """Per agent input: batch sizes, take -> settled (ms), last send -> settled (ms), one per batch."""
    topics = bus.topics
    name = {topics.requests(s): "requests" for s in SIDES} | {
        topics.attestations(s): "attestations" for s in SIDES
    }
    name[topics.quota] = "quota hops"
    batches: dict[tuple[str, float], list[Any]] = defaultdict(list)
    for (topic, _, _), stamp in events.items():
        batches[(name.get(topic, topic), stamp[0])].append(stamp)
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (who, yielded), stamps in batches.items():
        settled = stamps[0][2]
        out[who]["batch size"].append(stamps[0][3])
        out[who]["take -> settled ms"].append((settled - yielded) * 1000)
        out[who]["last send -> settled ms"].append((settled - max(s[1] for s in stamps)) * 1000)
    return out


def _p(values: list[float]) -> str:
    if not values:
        return "n/a"
    p50, p99, _ = tail_percentiles(values)
    return f"p50 {p50:7.1f}  p99 {p99:7.1f}"


def _lag(lags: list[float], seconds: float) -> str:
    late = [x for x in lags if x >= 0.001]
    worst = max(lags, default=0.0) * 1000
    p99 = tail_percentiles(lags)[1] * 1000 if lags else 0.0
    return (
        f"wake-ups late >= 1 ms: {len(late)}, p99 {p99:.1f} ms, worst {worst:.1f} ms, "
        f"late in all {sum(late):.2f} s (over the warm-up, the {seconds:.0f} s and the drain)"
    )


def _collections(collections: list[tuple[float, float, int]]) -> str:
    """Garbage collections by generation: how many, their pauses' sum and worst (the whole run)."""
    parts = []
    for gen in (0, 1, 2):
        took = [t * 1000 for _, t, g in collections if g == gen]
        if took:
            parts.append(f"gen {gen}: {len(took)}, {sum(took):.1f} ms in all, worst {max(took):.2f} ms")
    return "; ".join(parts) or "none stamped"


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


async def run_rate(
    broker: Any,
    codec: Codec,
    catalogue: Any,
    traffic: Traffic,
    rate: float,
    seconds: float,
    env: dict[str, str],
    warmup_s: float,
    idle_s: float = 0.0,
) -> dict[str, Any]:
    stamps = Path(tempfile.mkdtemp(prefix="crossbound-hops-")) / "hops.txt"
    phase = Phase(broker, codec, catalogue, "lh", env={ENV: str(stamps), **env})
    bus = StampedBus(broker.bootstrap, phase.topics, codec, catalogue)
    phase.bus = bus
    specs = topic_specs(phase.topics, Settings().single_node().topic_settings(), phase.partitions)
    stamped = {n: dataclasses.replace(s, configs={**s.configs, **APPEND_TIME}) for n, s in specs.items()}
    await ensure_topics(broker.bootstrap, stamped)
    await phase.start_workers()
    cases, warm_n = paced_cases(traffic, SCENARIOS, rate, seconds, warmup_s)
    n = len(cases) - warm_n - 1
    lags: list[float] = []
    stop = asyncio.Event()
    load_start = _load()
    try:
        async with bus:
            await warm_up(bus, cases[0])
            await asyncio.sleep(idle_s)  # the worker ready and idle first (--idle)
            probe = asyncio.create_task(loop_lag(stop, lags))
            cpu_start, start = phase.cpu(), time.perf_counter()
            await send_paced(bus, cases[1:], rate, len(cases))
            cpu_load = (phase.cpu() - cpu_start, time.perf_counter() - start)
            stop.set()
            await probe
            cpu_idle_start = phase.cpu()
            await asyncio.sleep(2.0)  # the worker idle (and its stamps flushed: once a second)
            cpu_idle = phase.cpu() - cpu_idle_start
    finally:
        phase.stop()
    load_end = _load()
    t = phase.topics
    followed = [f(s) for s in SIDES for f in (t.requests, t.attestation_requests, t.attestations, t.verdicts)]
    records = await read_back(broker.bootstrap, [*followed, t.quota], phase.partitions, codec)
    events, worker_lag, consumer = worker_lines(stamps)
    warm = {c.request_id for c in cases[: warm_n + 1]}
    segs, hops = follow(bus, records, events, warm)
    waits, fetch_note = input_wait(records, events, consumer, warm)
    kinds = {r[2] for r in records.values()}
    print(
        f"[kafka] {rate:,.0f}/s for {seconds:g} s after {warmup_s:g} s of warm-up: "
        f"{len(segs[SEGMENTS[0]])} of {n} requests followed "
        f"(timestamp types {sorted(kinds)}; 1 = LogAppendTime); {load_start} at start, {load_end} at end",
        flush=True,
    )
    for name, values in (segs | hops).items():
        print(f"[kafka]   {name:<58} {_p(values)} ms", flush=True)
    print("[kafka]   the worker's input wait, every input record (requests, attestations, hops):", flush=True)
    for name, values in waits.items():
        print(f"[kafka]     {name:<56} {_p(values)} ms", flush=True)
    print(f"[kafka]     {fetch_note}", flush=True)
    print(f"[kafka]   worker GC: {_collections(consumer.collections)}", flush=True)
    for who, figures in sorted(agent_cycles(events, bus).items()):
        print(f"[kafka]   agent {who}: " + "; ".join(f"{k} {_p(v)}" for k, v in figures.items()), flush=True)
    print(f"[kafka]   latency p50/max (ms) by second of the run: {by_second()}", flush=True)
    print(
        f"[kafka]   worker CPU: {cpu_load[0]:.2f} s over the {cpu_load[1]:.1f} s of load and drain "
        f"({100 * cpu_load[0] / cpu_load[1]:.0f} % of a core); idle after it {50 * cpu_idle:.0f} % of a core",
        flush=True,
    )
    lag_s = [late for _, late in worker_lag]
    print(f"[kafka]   worker loop: {_lag(lag_s, seconds)}", flush=True)
    print(f"[kafka]   bench loop:  {_lag(lags, seconds)}", flush=True)
    return {name: tail_percentiles(v)[:2] for name, v in (segs | hops).items() if v}


async def main(args: argparse.Namespace) -> None:
    remove_tansu_workarounds()
    codec = Codec(SchemaRegistry.load(default_schemas_dir()))
    catalogue = load_catalogue(default_rulesets_dir(), codec.registry)
    traffic = Traffic(seed=2026)
    env = dict(item.split("=", 1) for item in args.env)
    with make_broker("kafka") as broker:
        print(f"[kafka] broker {broker.url}; {os.cpu_count()} CPUs; {_load()}", flush=True)
        peak = 0.0
        if "half" in args.rates:
            phase = Phase(broker, codec, catalogue, "pk", env=env)
            cases = [traffic.case(SCENARIOS[i % 3], "valid") for i in range(args.attested)]
            peak, _ = await backlog_phase(phase, cases)
            print(
                f"[kafka] attested peak ({args.attested} valid): {peak:,.0f} verdicts/s; {_load()}",
                flush=True,
            )
        for item in args.rates:
            rate = peak / 2 if item == "half" else float(item)
            if args.before:
                before = env | dict(b.split("=", 1) for b in args.before)
                print(f"[kafka] before, workers with {before}:", flush=True)
                await run_rate(
                    broker, codec, catalogue, traffic, rate, args.seconds, before, args.warmup, args.idle
                )
                print(f"[kafka] after, workers with {env or 'the defaults'}:", flush=True)
            await run_rate(broker, codec, catalogue, traffic, rate, args.seconds, env, args.warmup, args.idle)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=lambda s: s.split(","), default=["50", "150", "half"])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--idle", type=float, default=0.0, help="seconds idle after the first verdict")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of the same load not followed")
    parser.add_argument("--attested", type=int, default=6000, help="requests of the peak measurement")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="worker settings")
    parser.add_argument(
        "--before", action="append", default=[], metavar="NAME=VALUE", help="each rate first under these too"
    )
    asyncio.run(main(parser.parse_args()))
