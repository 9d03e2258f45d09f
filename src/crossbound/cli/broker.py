"""``crossbound broker``: a broker on loopback until Ctrl-C, embedded Tansu or Apache Kafka (KRaft)."""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path

from crossbound.broker.kafka_config import SecureMode
from crossbound.cli.shared import Subparsers, add_json_flag
from crossbound.errors import InputError
from crossbound.settings import Settings

__all__ = ["add_parser", "run", "secure_mode"]


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
    p.add_argument(
        "--secure",
        type=Path,
        metavar="DIR",
        help="with --engine kafka: SASL_SSL with SCRAM-SHA-512 and ACLs; a CA generated into DIR/pki "
        "(clients: --ca-file DIR/pki/ca.pem), the super user 'admin' with its password in "
        "DIR/admin.password (kept if it exists)",
    )
    p.add_argument(
        "--users",
        type=Path,
        metavar="REGISTRY_DIR",
        help="with --secure: a directory written by `crossbound registry generate`; each of its "
        "scram/<user>.password files becomes a SCRAM user",
    )
    add_json_flag(p, "one JSON line once the broker is up (engine, url, ...) instead of the banner")
    p.set_defaults(run=run)


def secure_mode(directory: Path, users: Path | None) -> SecureMode:
    """The secured mode of ``--secure DIR [--users REGISTRY_DIR]``: a fresh CA, the admin password
    (generated once, mode 0600), and the registry's SCRAM users."""
    from crossbound.broker.testca import make_test_pki

    if users is not None and not (users / "scram").is_dir():
        raise InputError(f"{users}: no scram/ directory (write one with `crossbound registry generate`)")
    pki = make_test_pki(directory / "pki")
    admin_file = directory / "admin.password"
    if not admin_file.exists():
        fd = os.open(admin_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(24) + "\n")
    password = admin_file.read_text(encoding="utf-8").strip()
    scram = (
        {}
        if users is None
        else {
            path.stem: path.read_text(encoding="utf-8").strip()
            for path in sorted((users / "scram").glob("*.password"))
        }
    )
    return SecureMode(pki, ("admin", password), scram)


def run(args: argparse.Namespace) -> int:
    """Run ``crossbound broker``."""
    settings = Settings()  # CROSSBOUND_TANSU_BIN, CROSSBOUND_KAFKA_LIBS
    if args.engine == "kafka":
        from crossbound.broker.kafka import run_cluster
        from crossbound.broker.kafka_jars import fetch_kafka

        if args.fetch:
            print(fetch_kafka())
            return 0
        secure = None if args.secure is None else secure_mode(args.secure, args.users)
        return run_cluster(args.nodes, args.port, settings.kafka_libs, as_json=args.json, secure=secure)
    if args.fetch or args.secure or args.users:
        raise InputError("--fetch, --secure and --users apply to --engine kafka")
    if args.nodes != 1:
        raise InputError("--nodes applies to --engine kafka; Tansu runs one node")
    from crossbound.broker import find_tansu_binary, run_broker

    return run_broker(args.port, find_tansu_binary(settings.tansu_bin), as_json=args.json)
