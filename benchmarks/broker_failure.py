"""Broker failure on a three-node Apache Kafka cluster: one run of crossbound.testing.chaos, figures printed.

One worker on replication-factor-3 topics; attested requests at a paced rate; during the load a
broker that is not the KRaft controller leader is SIGKILLed and restarted, then the controller
leader. Prints what was lost or repeated and, per kill, how long verdicts stopped; the last line is
one JSON object.

    python benchmarks/broker_failure.py [--rate R] [--seconds S] [--down S] [--override KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections import Counter

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.broker import KafkaCluster
from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import load_catalogue
from crossbound.testing.chaos import run_broker_failure


class CountingHandler(logging.Handler):
    """Counts the bus's aiokafka warnings by message template instead of printing each."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[str(record.msg).split(":")[0]] += 1


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the load")
    parser.add_argument("--down", type=float, default=3.0, help="seconds each killed node stays down")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra broker property for every node, e.g. broker.session.timeout.ms=3000",
    )
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.override)
    client_log = CountingHandler()
    aiokafka_log = logging.getLogger("aiokafka")
    aiokafka_log.addHandler(client_log)
    aiokafka_log.propagate = False
    codec = Codec(SchemaRegistry.load(default_schemas_dir()))
    catalogue = load_catalogue(default_rulesets_dir(), codec.registry)
    t0 = time.monotonic()
    async with KafkaCluster(nodes=3, overrides=overrides) as cluster:
        print(f"cluster {cluster.url} started in {time.monotonic() - t0:.1f} s {overrides or ''}", flush=True)
        report = await run_broker_failure(
            cluster, codec, catalogue, rate=args.rate, seconds=args.seconds, down_s=args.down
        )
    print(f"requests      {report.requests} at {report.rate:g}/s over {report.load_s:.1f} s")
    print(f"verdicts      {report.verdicts} (not ACCEPT: {report.not_accepted})")
    print(f"lost          {report.lost}")
    print(f"duplicates    {report.duplicates}")
    print(f"repeats       with a different outcome or findings: {report.conflicting_repeats}")
    print(f"dead letters  {report.dead_letters} {report.dead_letter_reasons or ''}")
    print(f"worker        alive={report.worker_alive} ready={report.worker_ready} log {report.worker_log}")
    print(
        f"latency       before the first kill p50 {report.latency_before_kills_p50_s:.3f} s; "
        f"all: p50 {report.latency_p50_s:.3f} s  p99 {report.latency_p99_s:.3f} s  "
        f"max {report.latency_max_s:.3f} s (publish -> verdict at the bus)"
    )
    for k in report.kills:
        role = "controller leader" if k.controller else "not the controller"
        print(
            f"kill node {k.node} ({role}) at {k.at_s:.1f} s: first verdict after {k.first_verdict_s} s, "
            f"longest verdict gap {k.longest_gap_s:.3f} s, all earlier requests answered after "
            f"{k.caught_up_s} s, max latency of requests sent in the next {k.down_s + 5:g} s "
            f"{k.max_latency_s} s; down {k.down_s:g} s, restart {k.restart_s:.1f} s; "
            f"controller leader after: {k.controller_after}"
        )
    print(f"worker log    error names seen: {report.worker_log_errors or 'none'}")
    print(f"              tracebacks: {report.worker_tracebacks}")
    print(f"bus clients   aiokafka warnings: {dict(client_log.counts.most_common()) or 'none'}")
    print(json.dumps(report.as_dict()))


if __name__ == "__main__":
    asyncio.run(main())
