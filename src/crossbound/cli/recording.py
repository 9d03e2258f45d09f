"""``crossbound record`` and ``crossbound replay``: topics to JSON lines and back again."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crossbound.cli.shared import (
    Subparsers,
    add_broker_flag,
    add_json_flag,
    connect_broker,
    settings_from_args,
)

__all__ = ["add_parsers", "run_record", "run_replay"]


def add_parsers(sub: Subparsers) -> None:
    """The ``record`` and ``replay`` subcommands."""
    p = sub.add_parser("record", help="record topics from the beginning to JSON lines, until they are idle")
    add_broker_flag(p)
    p.add_argument("--topic", action="append", required=True, help="a topic to record (repeatable)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl", help="where to write the records")
    p.add_argument(
        "--idle", type=float, default=2.0, metavar="S", help="stop after S seconds without records"
    )
    add_json_flag(p, 'one JSON line: {"recorded": N, "topics": [...], "out": ...}')
    p.set_defaults(run=run_record)

    p = sub.add_parser("replay", help="publish a recording again, each record to its own partition")
    add_broker_flag(p)
    p.add_argument("file", type=Path, metavar="FILE.jsonl")
    p.add_argument("--from-prefix", default="", help="topic prefix used when it was recorded")
    p.add_argument("--to-prefix", default="", help="topic prefix to publish under")
    p.add_argument(
        "--respond",
        action="store_true",
        help="send recorded attestations only when the pipeline asks for them, as the data holders did",
    )
    add_json_flag(p, 'one JSON line: {"replayed": N, "file": ...}')
    p.set_defaults(run=run_replay)


def run_record(args: argparse.Namespace) -> int:
    """Run ``crossbound record``."""
    from crossbound.testing.recording import record, write_jsonl

    settings = settings_from_args(args)
    broker = connect_broker(settings, "record")
    records = broker.run(record(broker.bootstrap, args.topic, idle_s=args.idle, security=broker.security))
    n = write_jsonl(records, args.out)
    if args.json:
        print(json.dumps({"recorded": n, "topics": args.topic, "out": str(args.out)}))
    else:
        print(f"recorded {n} record(s) from {len(args.topic)} topic(s) to {args.out}", file=sys.stderr)
    return 0


def run_replay(args: argparse.Namespace) -> int:
    """Run ``crossbound replay``."""
    from crossbound.testing.recording import read_jsonl, replay

    records = read_jsonl(args.file)
    old, new = str(args.from_prefix), str(args.to_prefix)

    def rename(topic: str) -> str:
        return new + topic.removeprefix(old) if old and topic.startswith(old) else new + topic

    settings = settings_from_args(args)
    broker = connect_broker(settings, "replay")
    n = broker.run(
        replay(broker.bootstrap, records, rename=rename, respond=args.respond, security=broker.security)
    )
    if args.json:
        print(json.dumps({"replayed": n, "file": str(args.file)}))
    else:
        print(f"replayed {n} record(s) from {args.file}", file=sys.stderr)
    return 0
