"""``crossbound worker``: the production worker, every setting a flag or a ``CROSSBOUND_`` variable."""

from __future__ import annotations

import argparse

from crossbound.cli.shared import (
    Subparsers,
    add_broker_flag,
    add_paths_flags,
    add_setting,
    reach_broker,
    settings_from_args,
)

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """The ``worker`` subcommand."""
    p = sub.add_parser(
        "worker",
        help="run the validation worker",
        description="Run the validation worker until SIGINT/SIGTERM. It serves /metrics, /healthz "
        "and /readyz (200 once partitions are assigned and tables recovered, else 503).",
    )
    add_broker_flag(p, embedded=True)
    add_paths_flags(p)
    add_setting(p, "--partitions", "kafka.partitions", type=int)
    add_setting(
        p,
        "--replication-factor",
        "kafka.replication_factor",
        type=int,
        metavar="N",
        help="replication factor of every topic, min.insync.replicas lowered to at most N "
        "(unset: per kind, 3; 1 for a single node)",
    )
    add_setting(
        p,
        "--delivery",
        "kafka.delivery",
        choices=["at_least_once", "exactly_once"],
        help="processing guarantee (exactly_once is experimental, Kafka only)",
    )
    add_setting(p, "--app-id", "pipeline.app_id")
    add_setting(p, "--topic-prefix", "pipeline.topic_prefix")
    add_setting(p, "--attestation-timeout", "pipeline.attestation_timeout_s", type=float, metavar="S")
    add_setting(p, "--metrics-host", "metrics.host")
    add_setting(p, "--metrics-port", "metrics.port", type=int)
    add_setting(
        p, "--no-metrics", "metrics.enabled", action="store_const", const=False, help="do not serve metrics"
    )
    add_setting(p, "--session-timeout", "kafka.session_timeout_s", type=float, metavar="S")
    add_setting(p, "--log-level", "log_level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``crossbound worker``."""
    from crossbound.runtime.worker import run_worker

    settings = settings_from_args(args)
    if settings.kafka.broker is not None:
        reach_broker(settings, "worker")
    return run_worker(settings)
