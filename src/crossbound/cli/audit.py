"""``crossbound audit export`` and ``crossbound audit verify``: a side's audit log, offline.

``export`` reads ``<prefix><side>.audit`` from the beginning (``read_committed``: under
``exactly_once`` an aborted transaction's entries are not exported) until it is idle, and writes it
as JSON lines (:mod:`crossbound.audit.export`). ``verify FILE --registry REGISTRY [--anchors FILE]``
checks it (:mod:`crossbound.audit.verify`): exit 0 when it is accepted, 1 naming the first problem
(and every other one) when not, 2 when a file cannot be used. Export the other side's log (the
anchors) after this one, so that it holds the anchors of this log's last checkpoints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from crossbound.broker.security import ClientSecurity
from crossbound.cli.shared import (
    Subparsers,
    add_broker_flag,
    add_json_flag,
    add_paths_flags,
    add_setting,
    connect_broker,
    settings_from_args,
)
from crossbound.topics import SIDES, Topics

__all__ = ["add_parser", "read_topic", "run_export", "run_verify"]


def add_parser(sub: Subparsers) -> None:
    """The ``audit`` subcommand and its ``export`` and ``verify`` actions."""
    p = sub.add_parser("audit", help="export a side's audit log, or verify one offline")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write <side>.audit to a JSON-lines file")
    add_broker_flag(export)
    add_setting(export, "--topic-prefix", "pipeline.topic_prefix")
    export.add_argument("--side", choices=SIDES, required=True, help="whose audit log")
    export.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl")
    export.add_argument("--idle", type=float, default=2.0, metavar="S", help="stop after S s without records")
    add_json_flag(export, 'one JSON line: {"exported": N, "topic": ..., "out": ...}')
    export.set_defaults(run=run_export)
    verify = actions.add_parser("verify", help="check an exported log: chains, signatures, cross-anchors")
    verify.add_argument("file", type=Path, metavar="FILE")
    verify.add_argument(
        "--registry", type=Path, required=True, help="the participant registry (its platform keys)"
    )
    verify.add_argument("--anchors", type=Path, metavar="FILE", help="the other side's exported log")
    verify.add_argument(
        "--strict", action="store_true", help="accept no fork (a log written under exactly_once)"
    )
    add_paths_flags(verify)
    add_json_flag(verify, "one JSON object: ok, counts, and every problem with its chain, seq and line")
    verify.set_defaults(run=run_verify)


async def read_topic(
    bootstrap: str, topic: str, idle_s: float, security: ClientSecurity
) -> list[dict[str, Any]]:
    """Every committed record of an audit topic from the beginning, as export lines, until idle."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from crossbound.audit import from_topic
    from crossbound.broker.admin import partition_counts
    from crossbound.errors import InputError

    counts = await partition_counts(bootstrap, security=security)
    if not counts.get(topic):
        raise InputError(f"topic {topic!r} does not exist")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        **security.aiokafka_kwargs(),
    )
    lines: list[dict[str, Any]] = []
    try:
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in range(counts[topic])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle_s:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, messages in batch.items():
                lines.extend(from_topic(tp.partition, m.offset, m.value) for m in messages)
                quiet_since = time.monotonic()
    finally:
        await consumer.stop()
    return lines


def run_export(args: argparse.Namespace) -> int:
    """Run ``crossbound audit export``."""
    from crossbound.audit import write_log

    settings = settings_from_args(args)
    broker = connect_broker(settings, "audit export")
    topic = Topics(prefix=settings.pipeline.topic_prefix).audit(args.side)
    n = write_log(broker.run(read_topic(broker.bootstrap, topic, args.idle, broker.security)), args.out)
    if args.json:
        print(json.dumps({"exported": n, "topic": topic, "out": str(args.out)}))
    else:
        print(f"exported {n} audit record(s) from {topic} to {args.out}", file=sys.stderr)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Run ``crossbound audit verify``: 0 accepted, 1 not (naming the first problem)."""
    from crossbound.audit import read_log, verify_log
    from crossbound.cli.registry import scenarios_of
    from crossbound.participants import load_registry

    registry = load_registry(args.registry, scenarios_of(settings_from_args(args)))
    anchors = None if args.anchors is None else read_log(args.anchors)
    name = str(args.anchors) if args.anchors is not None else ""
    report = verify_log(read_log(args.file), registry, anchors, strict=args.strict, anchors_name=name)
    if args.json:
        print(json.dumps({"file": str(args.file), **report.as_json()}))
    elif report.ok:
        anchored = f", {report.anchors} cross-anchor(s) in {name} matched" if anchors is not None else ""
        print(
            f"{args.file}: OK: {report.side} side, {report.chains} chain(s), {report.entries} entries "
            f"({report.forks} crash fork(s) with their decisions taken again, {report.duplicates} "
            f"duplicate(s)), {report.checkpoints} signed checkpoint(s){anchored}"
        )
    else:
        print(f"{args.file}: FAILED: {report.problems[0].text()}")
        for problem in report.problems[1:]:
            print(f"  also: {problem.text()}")
    return 0 if report.ok else 1
