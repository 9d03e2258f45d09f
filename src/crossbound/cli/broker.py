"""``crossbound broker``: a broker on loopback until Ctrl-C, embedded Tansu or Apache Kafka (KRaft)."""

from __future__ import annotations

import argparse

from crossbound.cli.shared import Subparsers, add_json_flag
from crossbound.errors import InputError
from crossbound.settings import Settings

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """The ``broker`` subcommand."""
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
    add_json_flag(p, "one JSON line once the broker is up (engine, url, ...) instead of the banner")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``crossbound broker``."""
    settings = Settings()  # CROSSBOUND_TANSU_BIN, CROSSBOUND_KAFKA_LIBS
    if args.engine == "kafka":
        from crossbound.broker.kafka import run_cluster
        from crossbound.broker.kafka_jars import fetch_kafka

        if args.fetch:
            print(fetch_kafka())
            return 0
        return run_cluster(args.nodes, args.port, settings.kafka_libs, as_json=args.json)
    if args.fetch:
        raise InputError("--fetch applies to --engine kafka")
    if args.nodes != 1:
        raise InputError("--nodes applies to --engine kafka; Tansu runs one node")
    from crossbound.broker import find_tansu_binary, run_broker

    return run_broker(args.port, find_tansu_binary(settings.tansu_bin), as_json=args.json)
