"""crossbound benchmark: every phase on each broker engine in turn; the last line is one JSON object.

Each engine (``--engines tansu,kafka``, the default: the embedded Tansu, then a one-node Apache Kafka)
gets a broker of its own, started fresh, and the same phases (each on its own topics; ``--phases``
picks some):

1. passthrough: a bare aiokafka consume -> produce loop over preloaded keyed 300-byte records, each
   forwarded with its key to the same partition (the ceiling);
   floor: the request-only records through benchmarks/faust_floor.py, an agent shaped like
   crossbound's (batches, one table write and one send per record) on Faust's default settings, that
   decodes nothing;
2. request_only: requests rejected at the request stage (no attestation), one worker process;
3. attested: valid requests whose data holders answer at once (this script plays them), one worker;
   two_workers: request-only again with two worker processes in one consumer group;
4. latency: attested requests paced at half of the attested peak just measured (or ``--rate``);
   latency = request created_at -> verdict decided_at, p50/p99/p99.9, and a histogram PNG beside
   ``bench.json`` in ``--out`` (benchmarks/histogram.py), after ``--warmup`` seconds of the same load
   (measured apart: a fresh worker and broker are slow at first). ``--latency-before NAME=VALUE`` measures it
   first with the workers under other settings: a before/after in one run.

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

    python benchmarks/bench.py [--engines tansu,kafka] [--phases P,...] [--passthrough N] [--requests N]
                               [--attested N] [--rate R] [--seconds S] [--warmup S] [--out DIR]
                               [--latency-before NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from floors import PARTITIONS, cpu_seconds, faust_floor_phase, passthrough
from histogram import histogram_png, tail_percentiles
from paced import paced_cases, send_paced, warm_up

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
from crossbound.testing.traffic import Traffic
from crossbound.topics import Topics

SCENARIOS = ("sb_corporate_credit_report", "nb_hk_resident_consumer_credit", "payment_connect_northbound")

#: Extra ``crossbound worker`` arguments per engine. Both brokers here are one node: replication factor 1
#: (the worker lowers it by itself on Tansu).
WORKER_ARGS: dict[str, list[str]] = {"tansu": [], "kafka": ["--replication-factor", "1"]}

#: Figures that are not measurements (no Kafka/Tansu ratio).
_NOT_RATIOS = frozenset(
    {
        "counts",
        "latency_rate_per_s",
        "before_latency_rate_per_s",
        "wall_s",
        "latency_warmup_s",
        "before_latency_warmup_s",
    }
)


class Phase:
    """Worker processes (one consumer group) on fresh topics, and the bench's institutions and holders."""

    def __init__(
        self,
        broker: Broker,
        codec: Codec,
        catalogue: Any,
        name: str,
        workers: int = 1,
        env: dict[str, str] | None = None,
        partitions: int = PARTITIONS,
    ) -> None:
        tag = uuid.uuid4().hex[:6]
        self.partitions = partitions  # of every topic: benchmarks/scaling.py gives 1-3 workers equal shares
        self.env = env or {}  # the workers' environment on top of this process's (settings)
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
        specs = topic_specs(self.topics, Settings().single_node().topic_settings(), self.partitions)
        await ensure_topics(self.broker.bootstrap, specs)
        ports = []
        for i in range(self.workers_wanted):
            ports.append(free_port())
            extra = ["--app-id", self.topics.app_id, "--topic-prefix", self.topics.prefix]
            extra += ["--partitions", str(self.partitions)]
            # long enough that no request of a backlog times out waiting for its answer behind the backlog
            extra += ["--attestation-timeout", "600", *WORKER_ARGS[self.broker.engine]]
            self.workers.append(self.launch(ports[-1], self.log_dir / f"worker{i}.log", extra))
        for proc, port in zip(self.workers, ports, strict=True):
            await asyncio.to_thread(wait_until_ready, proc, port, 90.0)

    def launch(self, metrics_port: int, log: Path, extra: list[str]) -> Any:
        """Start one ``crossbound worker`` process (benchmarks/faust_profile.py starts it profiled)."""
        tansu = self.broker.engine == "tansu"
        return start_worker_process(
            self.broker.url, metrics_port=metrics_port, log_path=log, tansu=tansu, extra=extra, env=self.env
        )

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
    phase: Phase, traffic: Traffic, rate: float, seconds: float, warmup_s: float = 0.0
) -> tuple[list[float], float, list[float]]:
    """Attested requests at a paced rate, each stamped created_at when sent; latency to decided_at.

    The first ``warmup_s`` seconds of the load (the worker's and a fresh broker's warm-up) are paced
    the same but measured apart. Returns the latencies (ms) after the warm-up, the drain (seconds from
    the last request sent to the last verdict decided: a drain well over the p99 means the pipeline
    did not keep up with the rate, and the latencies measure a queue), and the warm-up's latencies.
    """
    await phase.start_workers()
    cases, warm_n = paced_cases(traffic, SCENARIOS, rate, seconds, warmup_s)
    try:
        async with phase.bus as bus:
            await warm_up(bus, cases[0])
            sent_end = await send_paced(bus, cases[1:], rate, len(cases))
    finally:
        phase.stop()
    warm = {case.request_id for case in cases[: warm_n + 1]}
    latencies: list[float] = []
    warming: list[float] = []
    for v in phase.verdicts():
        (warming if v["request_id"] in warm else latencies).append(
            (v["decided_at"] - v["request_created_at"]).total_seconds() * 1000
        )
    drain = max(v["decided_at"].timestamp() for v in phase.verdicts()) - sent_end
    return latencies, max(0.0, drain), warming[1:] if warming else warming


PHASES = ("passthrough", "floor", "request_only", "attested", "two_workers", "latency")

#: The latency goal on Kafka at half of the measured peak (issue 12, item 4), drawn on the histogram.
LATENCY_GOAL_MS = 25.0


async def measure_engine(
    engine: str, args: argparse.Namespace, codec: Codec, catalogue: Any, seed: int
) -> dict[str, Any]:
    """The chosen phases on one fresh broker of ``engine``; the figures, keyed as in the JSON line.

    Each phase draws its cases when it starts (``fresh``), so their ``created_at`` is this phase's.
    The attested backlog's line names the codes of the verdicts not accepted: ``payment_connect_northbound``
    waits at most 10 s for its attestation (its rule set's own timeout, which the bench's 600 s does
    not raise), so where the backlog is deeper than that some of its requests time out
    (``ATTESTATION_TIMEOUT``): their attestations wait behind the requests still queued.
    """

    def fresh() -> Traffic:
        return Traffic(seed=seed)  # its clock: now

    def say(text: str) -> None:
        print(f"[{engine}] {text}", flush=True)

    phases, fig = args.phases, {}
    began = time.monotonic()
    with make_broker(engine) as broker:
        say(
            f"broker {broker.url} ({time.monotonic() - began:.1f} s to start); {os.cpu_count()} CPUs; "
            + _load()
        )
        if "passthrough" in phases:
            bare = await passthrough(broker.bootstrap, args.passthrough)
            fig["passthrough_msgs_per_s"] = round(bare)
            say(
                f"passthrough (bare aiokafka consume->produce, {args.passthrough} x 300 B): {bare:,.0f} msg/s"
            )

        phase = Phase(broker, codec, catalogue, "ro")
        traffic = fresh()
        cases = [traffic.case(SCENARIOS[i % 3], "invalid") for i in range(args.requests)]
        if "floor" in phases:
            floor_values = [phase.bus.encode_case(c)[1:] for c in cases]
            floor_rate, floor_cpu = await faust_floor_phase(broker, floor_values)
            fig["faust_floor_records_per_s"] = round(floor_rate)
            fig["faust_floor_worker_cpu_us_per_record"] = round(floor_cpu)
            say(
                f"Faust floor (same records; take_events + one table write + one send, no decoding or "
                f"rules; Faust's defaults): {floor_rate:,.0f} records/s, worker CPU {floor_cpu:.0f} us/record"
            )
        if "request_only" in phases:
            traffic = fresh()
            cases = [traffic.case(SCENARIOS[i % 3], "invalid") for i in range(args.requests)]
            ro_rate, ro_cpu = await backlog_phase(phase, cases)
            fig["request_only_verdicts_per_s"] = round(ro_rate)
            fig["request_only_worker_cpu_us_per_verdict"] = round(ro_cpu)
            say(
                f"request-only ({args.requests} rejected at the request stage): {ro_rate:,.0f} verdicts/s"
                f"{_share(ro_rate, fig)}, worker CPU {ro_cpu:.0f} us/verdict"
            )

        if "attested" in phases:
            phase = Phase(broker, codec, catalogue, "at")
            traffic = fresh()
            cases = [traffic.case(SCENARIOS[i % 3], "valid") for i in range(args.attested)]
            at_rate, at_cpu = await backlog_phase(phase, cases)
            fig["attested_verdicts_per_s"] = round(at_rate)
            fig["attested_worker_cpu_us_per_verdict"] = round(at_cpu)
            outcomes = {
                o: sum(v["outcome"] == o for v in phase.verdicts()) for o in ("ACCEPT", "REVIEW", "REJECT")
            }
            codes = Counter(
                f["code"]
                for v in phase.verdicts()
                if v["outcome"] != "ACCEPT"
                for f in v["findings"]
                if f["severity"] == v["outcome"]
            )
            fig["attested_outcomes"] = outcomes
            fig["attested_codes_not_accepted"] = dict(codes.most_common())
            say(
                f"attested ({args.attested} valid, data holders answering): {at_rate:,.0f} verdicts/s"
                f"{_share(at_rate, fig)}, worker CPU {at_cpu:.0f} us/verdict, outcomes {outcomes}"
                + (f", codes of the others {dict(codes.most_common(6))}" if codes else "")
            )

        if "two_workers" in phases:
            phase = Phase(broker, codec, catalogue, "r2", workers=2)
            traffic = fresh()
            cases = [traffic.case(SCENARIOS[i % 3], "invalid") for i in range(args.requests)]
            ro2_rate, ro2_cpu = await backlog_phase(phase, cases)
            fig["request_only_2_workers_verdicts_per_s"] = round(ro2_rate)
            one = fig.get("request_only_verdicts_per_s")
            say(
                f"request-only, 2 worker processes in one group: {ro2_rate:,.0f} verdicts/s"
                + (f" ({ro2_rate / one:.2f}x one worker)" if one else "")
                + f", worker CPU {ro2_cpu:.0f} us/verdict"
            )

        if "latency" in phases:
            if args.latency_before:
                before = dict(item.split("=", 1) for item in args.latency_before)
                say(f"latency before, with the workers' settings {before}:")
                earlier = await latency_figures(broker, codec, catalogue, fresh(), args, fig, say, before)
                fig.update({f"before_{key}": value for key, value in earlier.items()})
            fig.update(await latency_figures(broker, codec, catalogue, fresh(), args, fig, say))
    for kind in ("request_only", "attested"):
        for base, key in (("passthrough_msgs_per_s", "passthrough"), ("faust_floor_records_per_s", "floor")):
            if f"{kind}_verdicts_per_s" in fig and fig.get(base):
                fig[f"{kind}_over_{key}"] = round(fig[f"{kind}_verdicts_per_s"] / fig[base], 4)
    wall = time.monotonic() - began
    say(f"done in {wall:.0f} s; {_load()}")
    fig["wall_s"] = round(wall)
    fig["counts"] = {
        "passthrough": args.passthrough,
        "request_only": args.requests,
        "attested": args.attested,
    }
    return fig


async def latency_figures(
    broker: Broker,
    codec: Codec,
    catalogue: Any,
    traffic: Traffic,
    args: argparse.Namespace,
    fig: dict[str, Any],
    say: Any,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The paced attested load at ``--rate`` or half of this run's attested peak; the PNG beside the JSON.

    ``env``: the workers' settings (environment) for a "before" measurement, whose PNG is named so.
    """
    rate = args.rate or fig.get("attested_verdicts_per_s", 0) / 2
    if not rate:
        raise SystemExit("the latency phase needs --rate, or the attested phase to measure the peak")
    phase = Phase(broker, codec, catalogue, "lt", env=env)
    lat, drain, warming = await latency_phase(phase, traffic, rate, args.seconds, args.warmup)
    p50, p99, p999 = tail_percentiles(lat)
    mean = statistics.fmean(lat)
    png = args.out / f"latency-{broker.engine}{'-before' if env else ''}.png"
    bin_ms, tick_ms = histogram_png(png, lat, goal_ms=LATENCY_GOAL_MS)
    how = "--rate" if args.rate else "half of the attested peak"
    say(
        f"latency (attested, {rate:,.0f}/s ({how}) for {args.seconds:g} s, created_at -> decided_at): "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, p99.9 {p999:.1f} ms, mean {mean:.1f} ms; last verdict "
        f"{drain:.2f} s after the last request"
        + (
            " (SATURATED: it did not keep up with the rate; the latencies measure a queue)"
            if drain > 1
            else ""
        )
    )
    if warming:
        w50, w99, _ = tail_percentiles(warming)
        say(
            f"  the {args.warmup:g} s warm-up before it (same rate, not in the figures above): "
            f"p50 {w50:.1f} ms, p99 {w99:.1f} ms, max {max(warming):.1f} ms"
        )
    say(
        f"histogram: {png} (bars: verdicts per {bin_ms:.2f} ms bin; ticks every {tick_ms:g} ms; lines: "
        f"p50 green, p99 orange, p99.9 red, the {LATENCY_GOAL_MS:g} ms goal blue)"
    )
    return {
        "latency_ms_p50": round(p50, 1),
        "latency_ms_p99": round(p99, 1),
        "latency_ms_p999": round(p999, 1),
        "latency_ms_mean": round(mean, 1),
        "latency_rate_per_s": round(rate),
        "latency_warmup_s": args.warmup,
        "latency_warmup_ms_p99": round(tail_percentiles(warming)[1], 1) if warming else None,
        "latency_drain_s": round(drain, 2),
        "latency_png": str(png),
    }


def _share(rate: float, fig: dict[str, Any]) -> str:
    """``rate`` as a share of the passthrough and of the Faust floor of this run, where measured."""
    out = ""
    if fig.get("passthrough_msgs_per_s"):
        out += f", {rate / fig['passthrough_msgs_per_s']:.1%} of passthrough"
    if fig.get("faust_floor_records_per_s"):
        out += f", {rate / fig['faust_floor_records_per_s']:.0%} of the Faust floor"
    return out


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def ratios(over: dict[str, Any], under: dict[str, Any]) -> dict[str, float]:
    """``over / under`` for every measured figure both have."""
    return {
        key: round(over[key] / under[key], 3)
        for key in sorted(over.keys() & under.keys() - _NOT_RATIOS)
        if isinstance(under[key], int | float) and isinstance(over[key], int | float) and under[key]
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    codec = Codec(SchemaRegistry.load(default_schemas_dir()))
    catalogue = load_catalogue(default_rulesets_dir(), codec.registry)
    began = time.monotonic()
    figures: dict[str, Any] = {}
    for engine in args.engines:
        # this process's own consumers talk to the broker too: the workarounds for Tansu only
        if engine == "tansu":
            apply_tansu_workarounds()
        else:
            remove_tansu_workarounds()
        try:
            figures[engine] = await measure_engine(engine, args, codec, catalogue, seed=2026)
        finally:
            remove_tansu_workarounds()
        assert not tansu_workarounds_applied()
    if "tansu" in figures and "kafka" in figures:
        figures["ratios"] = {"kafka_over_tansu": ratios(figures["kafka"], figures["tansu"])}
    figures["run"] = {
        "engines": list(args.engines),
        "cpus": os.cpu_count(),
        "wall_s": round(time.monotonic() - began),
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }
    (args.out / "bench.json").write_text(json.dumps(figures, sort_keys=True) + "\n")
    return figures


def names_arg(allowed: tuple[str, ...]) -> Any:
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if not names or unknown or len(set(names)) != len(names):
            raise argparse.ArgumentTypeError(
                f"a comma-separated list of distinct names from {', '.join(allowed)}, got {text!r}"
            )
        return names

    return parse


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--engines",
        type=names_arg(ENGINES),
        default=list(ENGINES),
        help=f"broker engines to measure, in order (default {','.join(ENGINES)})",
    )
    parser.add_argument(
        "--phases",
        type=names_arg(PHASES),
        default=list(PHASES),
        help=f"phases to run (default {','.join(PHASES)})",
    )
    parser.add_argument("--passthrough", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--attested", type=int, default=15_000)
    parser.add_argument("--rate", type=float, help="latency phase rate (default: half the attested peak)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="seconds of the paced load before the measured --seconds, measured apart (a fresh worker "
        "and broker are slow for their first seconds)",
    )
    parser.add_argument(
        "--latency-before",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="also measure the latency first with this worker setting (environment), e.g. "
        "CROSSBOUND_PIPELINE__BATCH_WITHIN_S=0.01: a before/after in one run",
    )
    parser.add_argument("--out", type=Path, default=Path(".bench"), help="where bench.json and the PNGs go")
    arguments = parser.parse_args()
    arguments.out.mkdir(parents=True, exist_ok=True)
    figures = asyncio.run(main(arguments))
    print(json.dumps(figures, sort_keys=True))
    sys.exit(0)
