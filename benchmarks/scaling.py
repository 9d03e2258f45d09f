"""Scaling out: verdicts/s with 1, 2 and 3 worker processes in one group, and who used the CPU meanwhile.

For each broker engine (``--broker kafka|tansu|both``; each started fresh, as bench.py does), each kind
of traffic (``request_only``: requests rejected at the request stage; ``attested``: valid requests whose
data holders, played by this process, answer at once) and each worker count (``--workers 1,2,3``):
fresh topics of ``--partitions`` partitions (6, so that 1, 2 and 3 workers get equal shares), the
workers started and ready (bench.py's ``Phase``), a backlog published at full speed and drained
(bench.py's ``backlog_phase``). The rate is bench.py's: from the verdicts' ``decided_at`` stamps, first
to last. Over the window from the first verdict received to the last (the two moments bench.py reads
the workers' CPU), each read here also samples, from /proc (psutil), the CPU seconds of every worker,
of the broker process(es) (Tansu's; Apache Kafka's JVM), of the load generator (this process: it
publishes the backlog, answers as the data holders and decodes the verdicts) and the machine's busy
seconds. They are printed as cores used (CPU seconds over the window's seconds) against
``os.cpu_count()``; "others" is the machine's busy time that none of these took (other work on a
shared machine, and the little kernel time charged to no process). A row is *saturated* when the
machine was busy on 90 % of its cores or more: one more worker cannot add throughput then, and the
speed-up measures the machine, not the pipeline (benchmarks/cpushare.py has the arithmetic).

"Verdicts/s per worker core" (verdicts/s over the cores the workers used) is the planning figure: a
deployment needs about (peak verdicts/s) / (that figure) cores for its workers, plus the broker's. It
is a cost, so a loaded machine moves it less than a rate; each worker also has a fixed cost of its
own, so it falls somewhat as workers are added.

The progress lines start with ``[engine]``; then a Markdown table of every row; with ``--json`` the
last line is one JSON object ``{"rows": [...], "per_worker_core": {engine: {kind: {workers: v}}},
"run": {...}}``, also written to ``--out``/scaling.json.

    python benchmarks/scaling.py [--broker kafka|tansu|both] [--workers 1,2,3] [--kinds K,...]
                                 [--requests N] [--attested N] [--partitions P] [--out DIR] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from bench import SCENARIOS, Phase, backlog_phase, names_arg
from cpushare import Row, Sample, per_worker_core, table, usage
from floors import cpu_seconds

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.broker import (
    ENGINES,
    Broker,
    EmbeddedBroker,
    KafkaCluster,
    apply_tansu_workarounds,
    make_broker,
    remove_tansu_workarounds,
)
from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import load_catalogue
from crossbound.testing.traffic import Traffic

KINDS = ("request_only", "attested")

#: The traffic case outcome per kind: rejected at the request stage, or valid and answered.
_OUTCOME = {"request_only": "invalid", "attested": "valid"}


def broker_pids(broker: Broker) -> list[int]:
    """The broker's process ids: Tansu's one process, or the JVM of every Kafka node."""
    if isinstance(broker, EmbeddedBroker):
        return [broker.pid]
    if isinstance(broker, KafkaCluster):
        pids = [broker.pid(node) for node in broker.node_ids]
        if None in pids:
            raise SystemExit(f"a Kafka node is not running: {broker!r}")
        return [pid for pid in pids if pid is not None]
    raise TypeError(f"no process ids for {broker!r}")


def machine_busy_seconds() -> float:
    """The machine's CPU seconds not idle (nor waiting for I/O, nor stolen by a hypervisor), all cores."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0))


@dataclass(frozen=True)
class Kit:
    """What every row is built with: parsed once for the whole run."""

    codec: Codec
    catalogue: Any
    traffic: Traffic
    partitions: int


class ScalingPhase(Phase):
    """bench.py's Phase whose every read of the workers' CPU also samples the broker, this process and
    the machine: bench.py reads it at the first verdict and once the backlog is drained, so the two
    samples span the same window as its worker CPU per verdict.
    """

    def __init__(
        self, broker: Broker, codec: Codec, catalogue: Any, kind: str, workers: int, partitions: int
    ):
        super().__init__(
            broker, codec, catalogue, f"s{kind[0]}{workers}", workers=workers, partitions=partitions
        )
        self.samples: list[Sample] = []

    def cpu(self) -> float:
        groups = {
            "workers": [proc.pid for proc in self.workers],
            "broker": broker_pids(self.broker),
            "generator": [os.getpid()],
        }
        sample = Sample(
            at=time.monotonic(),
            cpu={group: {pid: cpu_seconds(pid) for pid in pids} for group, pids in groups.items()},
            machine_busy=machine_busy_seconds(),
        )
        self.samples.append(sample)
        return sum(sample.cpu["workers"].values())


async def measure(broker: Broker, kind: str, workers: int, n: int, kit: Kit) -> Row:
    """One backlog of ``n`` requests of ``kind`` through ``workers`` worker processes."""
    phase = ScalingPhase(broker, kit.codec, kit.catalogue, kind, workers, kit.partitions)
    cases = [kit.traffic.case(SCENARIOS[i % len(SCENARIOS)], _OUTCOME[kind]) for i in range(n)]
    rate, _ = await backlog_phase(phase, cases)
    if len(phase.samples) != 2:
        raise SystemExit(f"expected CPU samples at the first and last verdict, got {len(phase.samples)}")
    first, last = phase.samples
    return Row(broker.engine, kind, workers, n, rate, usage(first, last, os.cpu_count() or 1))


async def measure_engine(engine: str, args: argparse.Namespace, kit: Kit) -> list[Row]:
    """Every kind and worker count on one fresh broker of ``engine``."""
    rows: list[Row] = []
    if engine == "tansu":  # this process's own consumers need them too; Kafka runs without
        apply_tansu_workarounds()
    try:
        with make_broker(engine) as broker:
            print(f"[{engine}] broker {broker.url}, pids {broker_pids(broker)}; {_load()}", flush=True)
            for kind in args.kinds:
                n = args.requests if kind == "request_only" else args.attested
                for workers in args.workers:
                    row = await measure(broker, kind, workers, n, kit)
                    print(f"[{engine}] {kind} x {n}, {row.describe()}; {_load()}", flush=True)
                    rows.append(row)
    finally:
        remove_tansu_workarounds()
    return rows


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _workers_arg(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1 or len(set(counts)) != len(counts):
        raise argparse.ArgumentTypeError(f"distinct worker counts >= 1, comma-separated, got {text!r}")
    return counts


async def main(args: argparse.Namespace) -> dict[str, Any]:
    codec = Codec(SchemaRegistry.load(default_schemas_dir()))
    catalogue = load_catalogue(default_rulesets_dir(), codec.registry)
    kit = Kit(codec, catalogue, Traffic(seed=2026), args.partitions)
    engines = list(ENGINES) if args.broker == "both" else [args.broker]
    began, load_start = time.monotonic(), os.getloadavg()
    rows = [row for engine in engines for row in await measure_engine(engine, args, kit)]
    print(table(rows), flush=True)
    return {
        "rows": [row.figures() for row in rows],
        "per_worker_core": per_worker_core(rows),
        "run": {
            "engines": engines,
            "cpus": os.cpu_count(),
            "partitions": args.partitions,
            "counts": {"request_only": args.requests, "attested": args.attested},
            "wall_s": round(time.monotonic() - began),
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", choices=(*ENGINES, "both"), default="both")
    parser.add_argument(
        "--workers", type=_workers_arg, default=[1, 2, 3], help="worker counts (default 1,2,3)"
    )
    parser.add_argument("--kinds", type=names_arg(KINDS), default=list(KINDS), help="request_only,attested")
    parser.add_argument("--requests", type=int, default=6_000, help="request-only backlog per row")
    parser.add_argument("--attested", type=int, default=3_000, help="attested backlog per row")
    parser.add_argument("--partitions", type=int, default=6, help="partitions of every topic (default 6)")
    parser.add_argument("--out", type=Path, default=Path(".bench"), help="where scaling.json goes")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line last")
    arguments = parser.parse_args()
    if max(arguments.workers) > arguments.partitions:
        parser.error(f"{max(arguments.workers)} workers need at least as many partitions")
    figures = asyncio.run(main(arguments))
    arguments.out.mkdir(parents=True, exist_ok=True)
    (arguments.out / "scaling.json").write_text(json.dumps(figures, sort_keys=True) + "\n")
    if arguments.json:
        print(json.dumps(figures, sort_keys=True))
    sys.exit(0)
