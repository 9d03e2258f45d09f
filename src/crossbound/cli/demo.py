"""``crossbound demo``: the whole pipeline on one machine, with simulated institutions on both sides.

It starts the embedded broker (or uses ``--broker``), creates the topics, starts a real worker process,
then plays the institutions (publishing requests, valid, invalid, mismatching, late and undecodable)
and the data holders (answering attestation requests), collects every verdict and dead letter, and
prints a summary. Every published record must come back as exactly one verdict or dead letter.

On a ``--broker`` where a worker already runs, the demo's worker would join that worker's consumer
group and take over some of its partitions (and the demo's traffic would mix with real traffic), so
the demo refuses unless told ``--join``; ``--app-id`` and ``--topic-prefix`` run it beside instead.

``--secure`` runs it across the whole trust boundary on an Apache Kafka of its own (SASL_SSL, SCRAM,
the registry's ACLs, signatures, the audit; :mod:`crossbound.cli.demo_secure`).
"""

from __future__ import annotations

import argparse

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.cli.shared import (
    Subparsers,
    add_broker_flag,
    add_json_flag,
    add_paths_flags,
    add_setting,
    connect_broker,
    env_name,
    reach_broker,
    settings_from_args,
)
from crossbound.errors import InputError
from crossbound.settings import Settings

__all__ = ["COUNT", "SECURE_COUNT", "add_parser", "group_members", "refuse_to_join", "run"]

COUNT = 600  # requests of the demo, by default
SECURE_COUNT = 100  # and of demo --secure


def add_parser(sub: Subparsers) -> None:
    """The ``demo`` subcommand."""
    p = sub.add_parser(
        "demo",
        help="broker + worker + simulated institutions on both sides, then a summary",
        description="Run the pipeline on one machine: a broker (embedded Tansu, or --broker), a worker "
        "process and simulated institutions, then print a summary. Exit 0 when every request was "
        "answered as the simulation intended. On a --broker whose consumer group already has members "
        "(a running worker) it refuses, exit 2, unless --join.",
    )
    add_broker_flag(p, embedded=True)
    add_paths_flags(p)
    p.add_argument(
        "--count",
        type=int,
        help=f"requests to publish (default {COUNT}; with --secure {SECURE_COUNT}: every client's TLS "
        "connection and the worker's on a secured Kafka are slower, and a burst must stay within the "
        "demo's attestation timeout)",
    )
    add_json_flag(p, "the summary as one JSON object")
    p.add_argument(
        "--keep-running", action="store_true", help="leave the pipeline and /metrics up afterwards"
    )
    p.add_argument("--seed", type=int, default=7, help="seed of the simulated traffic")
    p.add_argument(
        "--rate", type=float, default=0.0, help="requests per second (default 0: all in one burst)"
    )
    add_setting(p, "--metrics-port", "metrics.port", type=int, help="port of the worker's /metrics")
    add_setting(p, "--app-id", "pipeline.app_id")
    add_setting(p, "--topic-prefix", "pipeline.topic_prefix")
    p.add_argument(
        "--join",
        action="store_true",
        help="with --broker: start the demo's worker even if the consumer group already has members",
    )
    p.add_argument(
        "--secure",
        action="store_true",
        help="the trust boundary: a generated registry, Apache Kafka with SASL_SSL, SCRAM users and ACLs, "
        "every institution connected and signing as itself, forgery attempts, both audit logs verified",
    )
    p.set_defaults(run=run)


async def group_members(bootstrap: str, group: str, security: ClientSecurity = PLAINTEXT) -> int:
    """How many members consumer group ``group`` has now (0 for a group that does not exist)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=10_000, **security.aiokafka_kwargs()
    )
    try:
        await admin.start()
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    return sum(
        len(g["members"])
        for response in responses
        for g in response.to_object()["groups"]
        if g["group"] == group and not g["error_code"]
    )


def refuse_to_join(settings: Settings) -> None:
    """InputError when the demo's worker would join a consumer group that already has members."""
    broker = connect_broker(settings, "demo")
    group = settings.pipeline.app_id
    members = broker.run(group_members(broker.bootstrap, group, broker.security))
    if members:
        raise InputError(
            f"consumer group {group!r} on {broker.url} has {members} member(s): a worker is running there, "
            "and the demo's worker would join its group and take over some of its partitions. Pass --join "
            f"to do that anyway, or run beside it with another --app-id and --topic-prefix "
            f"({env_name('pipeline.app_id')}, {env_name('pipeline.topic_prefix')})"
        )


def run(args: argparse.Namespace) -> int:
    """Run ``crossbound demo``."""
    from crossbound.cli.demo_run import run_demo

    settings = settings_from_args(args)
    if args.secure:
        from crossbound.cli.demo_secure import run_secure_demo

        if settings.kafka.broker is not None or args.join or args.keep_running:
            raise InputError(
                "--secure starts its own Apache Kafka and stops it afterwards: no --broker, --join or "
                "--keep-running"
            )
        count = SECURE_COUNT if args.count is None else args.count
        return run_secure_demo(settings, count=count, as_json=args.json, seed=args.seed, rate=args.rate)
    if settings.kafka.broker is not None:
        if args.join:
            reach_broker(settings, "demo")
        else:
            refuse_to_join(settings)
    return run_demo(
        settings,
        count=COUNT if args.count is None else args.count,
        as_json=args.json,
        keep_running=args.keep_running,
        seed=args.seed,
        rate=args.rate,
    )
