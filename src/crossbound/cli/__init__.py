"""The ``crossbound`` command: broker, worker, demo, check, publish, record, replay, ids, scenarios.

Flags are turned into one :class:`~crossbound.settings.Settings` here, at the edge; environment
variables (``CROSSBOUND_...``) fill in what flags do not say.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crossbound import __version__
from crossbound.errors import ConfigError, CrossboundError, InputError
from crossbound.settings import Settings

__all__ = ["build_parser", "main"]


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--broker", metavar="kafka://HOST:PORT", help="a running Kafka; default: start the embedded Tansu"
    )
    p.add_argument("--schemas", type=Path, metavar="DIR", help="schemas directory (default: the shipped one)")
    p.add_argument(
        "--rulesets", type=Path, metavar="DIR", help="rule-set directory (default: the shipped one)"
    )


def _add_worker_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--partitions", type=int, help="partitions per topic (default 4)")
    p.add_argument(
        "--replication-factor",
        type=int,
        metavar="N",
        help="replication factor of every topic, min.insync.replicas lowered to at most N "
        "(default: per kind, 3; 1 for a single node)",
    )
    p.add_argument(
        "--delivery",
        choices=["at_least_once", "exactly_once"],
        help="processing guarantee (default at_least_once; exactly_once is experimental, Kafka only)",
    )
    p.add_argument("--app-id", help="Faust app id and consumer group (default crossbound)")
    p.add_argument("--topic-prefix", help="prefix of every topic name")
    p.add_argument(
        "--attestation-timeout", type=float, metavar="S", help="seconds to wait for an attestation"
    )
    p.add_argument("--metrics-host", help="address /metrics binds to (default 127.0.0.1)")
    p.add_argument("--metrics-port", type=int, help="port of /metrics (default 9464; 0 picks a free one)")
    p.add_argument("--no-metrics", action="store_true", help="do not serve /metrics")
    p.add_argument("--session-timeout", type=float, metavar="S", help="consumer group session timeout")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the commands)."""
    parser = argparse.ArgumentParser(prog="crossbound", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"crossbound {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "broker",
        help="run a broker on loopback until stopped: embedded Tansu, or Apache Kafka (KRaft)",
        description="Run a Kafka broker on 127.0.0.1 until Ctrl-C. --engine tansu (default) is the "
        "memory-only embedded broker; --engine kafka runs Apache Kafka from the jars `make kafka` "
        "fetches, as one combined node or a three-node cluster.",
    )
    p.add_argument("--engine", choices=["tansu", "kafka"], default="tansu", help="broker engine")
    p.add_argument(
        "--nodes", type=int, choices=[1, 3], default=1, help="Kafka nodes (broker+controller each)"
    )
    p.add_argument("--port", type=int, help="client port (of the first node; default: a free one)")
    p.add_argument(
        "--fetch",
        action="store_true",
        help="with --engine kafka: fetch the pinned Kafka jars into the cache (needs Maven), print the "
        "directory and exit",
    )

    p = sub.add_parser("worker", help="run the validation worker")
    _add_common(p)
    _add_worker_flags(p)

    p = sub.add_parser("demo", help="broker + worker + simulated institutions on both sides, then a summary")
    _add_common(p)
    p.add_argument("--count", type=int, default=600, help="requests to publish (default 600)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument(
        "--keep-running", action="store_true", help="leave the pipeline and /metrics up afterwards"
    )
    p.add_argument("--seed", type=int, default=7, help="seed of the simulated traffic")
    p.add_argument(
        "--rate", type=float, default=0.0, help="requests per second (default 0: all in one burst)"
    )
    p.add_argument("--metrics-port", type=int, default=9464, help="port of the worker's /metrics")

    p = sub.add_parser("check", help="evaluate one request offline and print the verdict as JSON")
    p.add_argument("--scenario", required=True, help="scenario id the request must be for")
    p.add_argument("request", type=Path, metavar="REQUEST.json")
    p.add_argument("--attestation", type=Path, metavar="A.json", help="the data holder's answer")
    p.add_argument("--now", help="evaluation time, RFC 3339 (default: now)")
    p.add_argument("--schemas", type=Path, metavar="DIR")
    p.add_argument("--rulesets", type=Path, metavar="DIR")

    p = sub.add_parser(
        "ids",
        help="check identifiers (HKID, USCC, LEI, ...): one line per value, valid or invalid and why",
        description="Check each VALUE as an identifier of KIND. Exit 0 when all are valid, 1 when any is "
        "invalid, 2 for an unknown KIND. `crossbound ids` alone, or `--list`, lists the kinds.",
    )
    p.add_argument("kind", nargs="?", metavar="KIND", help="identifier kind (see --list)")
    p.add_argument(
        "values", nargs="*", metavar="VALUE", help="values to check (use -- before a value starting with -)"
    )
    p.add_argument("--list", action="store_true", help="list the kinds with a description each")
    p.add_argument("--json", action="store_true", help="print one JSON object per line")
    p.add_argument(
        "--today", metavar="YYYY-MM-DD", help="reference date for birth dates (default: today in UTC+8)"
    )

    p = sub.add_parser("scenarios", help="the scenario catalogue from the rule sets: list, or show one")
    scen = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = scen.add_parser("list", help="one line per scenario: id, sides, theme, status, rules, title")
    q.add_argument("--json", action="store_true", help="print a JSON array")
    q.add_argument("--schemas", type=Path, metavar="DIR")
    q.add_argument("--rulesets", type=Path, metavar="DIR")
    q = scen.add_parser("show", help="one scenario: sides, purposes, fields by class, rules")
    q.add_argument("scenario", metavar="ID")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.add_argument("--schemas", type=Path, metavar="DIR")
    q.add_argument("--rulesets", type=Path, metavar="DIR")

    p = sub.add_parser("publish", help="turn JSON lines into encoded records on a topic")
    p.add_argument("--broker", required=True, metavar="kafka://HOST:PORT")
    p.add_argument("--topic", required=True)
    p.add_argument("--kind", choices=["request", "attestation"], default="request")
    p.add_argument("file", metavar="FILE.jsonl", help="JSON lines, or - for standard input")
    p.add_argument("--schemas", type=Path, metavar="DIR")
    p.add_argument("--rulesets", type=Path, metavar="DIR")
    p = sub.add_parser("record", help="record topics from the beginning to JSON lines, until they are idle")
    p.add_argument("--broker", required=True, metavar="kafka://HOST:PORT")
    p.add_argument("--topic", action="append", required=True, help="a topic to record (repeatable)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl")
    p.add_argument(
        "--idle", type=float, default=2.0, metavar="S", help="stop after S seconds without records"
    )

    p = sub.add_parser("replay", help="publish a recording again, each record to its own partition")
    p.add_argument("--broker", required=True, metavar="kafka://HOST:PORT")
    p.add_argument("file", type=Path, metavar="FILE.jsonl")
    p.add_argument("--from-prefix", default="", help="topic prefix used when it was recorded")
    p.add_argument("--to-prefix", default="", help="topic prefix to publish under")
    p.add_argument(
        "--respond",
        action="store_true",
        help="send recorded attestations only when the pipeline asks for them, as the data holders did",
    )
    return parser


def _cmd_record(args: argparse.Namespace, settings: Settings) -> int:
    from crossbound.testing.recording import record, write_jsonl

    records = asyncio.run(record(settings.kafka.bootstrap_servers, args.topic, idle_s=args.idle))
    n = write_jsonl(records, args.out)
    print(f"recorded {n} record(s) from {len(args.topic)} topic(s) to {args.out}", file=sys.stderr)
    return 0


def _cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from crossbound.testing.recording import read_jsonl, replay

    records = read_jsonl(args.file)
    old, new = str(args.from_prefix), str(args.to_prefix)

    def rename(topic: str) -> str:
        return new + topic.removeprefix(old) if old and topic.startswith(old) else new + topic

    n = asyncio.run(replay(settings.kafka.bootstrap_servers, records, rename=rename, respond=args.respond))
    print(f"replayed {n} record(s) from {args.file}", file=sys.stderr)
    return 0


def settings_from_args(args: argparse.Namespace) -> Settings:
    """One Settings object from flags plus environment."""
    kafka: dict[str, Any] = {}
    pipeline: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    top: dict[str, Any] = {}

    def put(target: dict[str, Any], key: str, attr: str) -> None:
        value = getattr(args, attr, None)
        if value is not None:
            target[key] = value

    put(kafka, "broker", "broker")
    put(kafka, "partitions", "partitions")
    put(kafka, "replication_factor", "replication_factor")
    put(kafka, "session_timeout_s", "session_timeout")
    put(kafka, "delivery", "delivery")
    put(pipeline, "schemas_dir", "schemas")
    put(pipeline, "rulesets_dir", "rulesets")
    put(pipeline, "app_id", "app_id")
    put(pipeline, "topic_prefix", "topic_prefix")
    put(pipeline, "attestation_timeout_s", "attestation_timeout")
    put(metrics, "host", "metrics_host")
    put(metrics, "port", "metrics_port")
    if getattr(args, "no_metrics", False):
        metrics["enabled"] = False
    put(top, "log_level", "log_level")
    for name, group in (("kafka", kafka), ("pipeline", pipeline), ("metrics", metrics)):
        if group:
            top[name] = group
    return Settings(**top)


def _cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from crossbound.cli.check import check_request

    now = datetime.now(UTC)
    if args.now:
        try:
            now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"--now: not an RFC 3339 timestamp: {args.now!r}") from None
        if now.tzinfo is None:
            raise InputError("--now needs a time zone, e.g. 2026-11-24T09:00:00Z")
    result = check_request(settings, args.scenario, args.request, args.attestation, now)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def _cmd_ids(args: argparse.Namespace) -> int:
    from crossbound.cli import ids as ids_view
    from crossbound.identifiers import KINDS, check

    if args.list or args.kind is None:
        kinds = ids_view.json_lines(ids_view.kinds_json()) if args.json else ids_view.format_kinds()
        print(kinds)
        return 0
    if args.kind not in KINDS:
        raise InputError(f"unknown identifier kind {args.kind!r}; kinds: {', '.join(KINDS)}")
    if not args.values:
        raise InputError(f"ids {args.kind}: give at least one VALUE to check")
    today = None
    if args.today:
        try:
            today = date.fromisoformat(args.today)
        except ValueError:
            raise InputError(f"--today: not a date (YYYY-MM-DD): {args.today!r}") from None
    pairs = [(value, check(args.kind, value, today=today)) for value in args.values]
    if args.json:
        print(ids_view.json_lines([ids_view.result_json(v, r) for v, r in pairs]))
    else:
        print(ids_view.format_results(pairs))
    return 0 if all(r.valid for _, r in pairs) else 1


def _cmd_scenarios(args: argparse.Namespace, settings: Settings) -> int:
    from crossbound.cli import scenarios as view

    catalogue, registry = view.load(settings.pipeline.schemas_dir, settings.pipeline.rulesets_dir)
    if args.action == "list":
        rows = view.scenario_rows(catalogue)
        if args.json:
            print(json.dumps([r.as_json() for r in rows], indent=2, sort_keys=True, ensure_ascii=False))
        else:
            print(view.format_list(rows))
        return 0
    rs = catalogue.scenarios.get(args.scenario)
    if rs is None:
        raise InputError(
            f"unknown scenario {args.scenario!r}; known: {', '.join(sorted(catalogue.scenarios))}"
        )
    detail = view.scenario_view(rs, registry)
    if args.json:
        print(json.dumps(detail.as_json(), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        print(view.format_scenario(detail))
    return 0


def _cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from crossbound.cli.publish import publish_lines

    if args.file == "-":
        lines = sys.stdin.read().splitlines()
    else:
        try:
            lines = Path(args.file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InputError(f"{args.file}: {exc.strerror}") from None
    count = asyncio.run(publish_lines(settings, args.topic, args.kind, lines))
    print(f"published {count} {args.kind}(s) to {args.topic}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crossbound`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "broker":
            base = Settings()
            if args.engine == "kafka":
                from crossbound.broker.kafka import run_cluster
                from crossbound.broker.kafka_jars import fetch_kafka

                if args.fetch:
                    print(fetch_kafka())
                    return 0
                return run_cluster(args.nodes, args.port, base.kafka_libs)
            if args.fetch:
                raise InputError("--fetch applies to --engine kafka")
            if args.nodes != 1:
                raise InputError("--nodes applies to --engine kafka; Tansu runs one node")
            from crossbound.broker import find_tansu_binary, run_broker

            return run_broker(args.port, find_tansu_binary(base.tansu_bin))
        if args.command == "ids":
            return _cmd_ids(args)
        settings = settings_from_args(args)
        if args.command == "worker":
            from crossbound.runtime.worker import run_worker

            return run_worker(settings)
        if args.command == "demo":
            from crossbound.cli.demo import run_demo

            return run_demo(
                settings,
                count=args.count,
                as_json=args.json,
                keep_running=args.keep_running,
                seed=args.seed,
                rate=args.rate,
            )
        if args.command == "check":
            return _cmd_check(args, settings)
        if args.command == "publish":
            return _cmd_publish(args, settings)
        if args.command == "scenarios":
            return _cmd_scenarios(args, settings)
        if args.command == "record":
            return _cmd_record(args, settings)
        if args.command == "replay":
            return _cmd_replay(args, settings)
    except ValidationError as exc:
        print(f"crossbound: bad setting: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, InputError) as exc:
        print(f"crossbound: {exc}", file=sys.stderr)
        return 2
    except CrossboundError as exc:
        print(f"crossbound: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command}")
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
