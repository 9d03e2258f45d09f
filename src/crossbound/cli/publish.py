"""``crossbound publish``: JSON requests or attestations in, encoded records out, keyed by request_id
(document fingerprints, ``--kind fingerprint``, keyed by their digest).

Every object is encoded before anything connects, so a bad one stops the command with nothing sent.
With ``--signing-key`` (a PEM private key, the institution's) and ``--key-id`` (its registry key id)
every record is signed as a worker with a participant registry requires (:mod:`crossbound.signing`:
bound to the record's side, its kind and its key), at the moment it is encoded: a request as its
requester, an attestation as its attester, a fingerprint as its issuer, which must be the key's holder
(the worker refuses any other signer as ``not_authorised``).
The topic must exist: it is looked up first (in a Metadata request for all topics, which creates
nothing), because a producer sending to a missing topic would have it auto-created (Tansu does, with 4
partitions; so does a Kafka with ``auto.create.topics.enable``) and report success for records that no
worker reads, e.g. after a memory-only broker restarted and lost every topic.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.cli.documents import Document, read_documents
from crossbound.cli.shared import (
    Subparsers,
    add_broker_flag,
    add_json_flag,
    add_paths_flags,
    connect_broker,
    settings_from_args,
)
from crossbound.domain import Side
from crossbound.errors import BrokerError, InputError
from crossbound.settings import Settings
from crossbound.signing import Binding, RecordKind, Signer

__all__ = ["add_parser", "encode_documents", "publish_records", "run"]

Headers = tuple[tuple[str, bytes], ...]
_SIDE_FIELD = {"request": "requester_side", "attestation": "attester_side", "fingerprint": "issuer_side"}


def add_parser(sub: Subparsers) -> None:
    """The ``publish`` subcommand."""
    p = sub.add_parser(
        "publish",
        help="turn JSON requests or attestations into encoded records on a topic",
        description="Encode every object of FILE (JSON lines, or pretty-printed JSON objects) and "
        "publish them to TOPIC, keyed by request_id. Nothing is sent unless every object encodes.",
    )
    add_broker_flag(p)
    p.add_argument("--topic", required=True, help="the topic to publish to, e.g. hk.requests")
    p.add_argument(
        "--kind",
        choices=["request", "attestation", "fingerprint"],
        default="request",
        help="what FILE holds (default request; fingerprint: registry records, keyed by digest)",
    )
    p.add_argument("file", metavar="FILE", help="JSON lines or JSON objects, or - for standard input")
    p.add_argument(
        "--signing-key",
        type=Path,
        metavar="PEM",
        help="sign every record with this private key (the institution's; with --key-id)",
    )
    p.add_argument("--key-id", metavar="ID", help="the registry key id of --signing-key")
    add_paths_flags(p)
    add_json_flag(p, 'one JSON line: {"published": N, "kind": ..., "topic": ...}')
    p.set_defaults(run=run)


def encode_documents(
    settings: Settings, kind: str, docs: Sequence[Document], signer: Signer | None = None
) -> list[tuple[bytes, bytes, Headers]]:
    """Encode (and with ``signer``, sign) every object; an unusable one stops everything, naming its line."""
    from crossbound.codec import Codec, SchemaRegistry
    from crossbound.codec.jsonform import attestation_from_json, from_json, request_from_json
    from crossbound.rules import load_catalogue

    registry = SchemaRegistry.load(settings.pipeline.schemas_dir)
    codec = Codec(registry, settings.pipeline.max_record_bytes)
    catalogue = load_catalogue(settings.pipeline.rulesets_dir, registry)
    subject = f"core/{kind}"
    records: list[tuple[bytes, bytes, Headers]] = []
    now_ms = int(time.time() * 1000)
    for doc in docs:
        try:
            if kind == "fingerprint":
                record = from_json(doc.value, registry.current(subject).raw)
                key = record["digest"]
            else:
                convert = request_from_json if kind == "request" else attestation_from_json
                record = convert(doc.value, codec, catalogue)
                key = record["request_id"]
        except InputError as exc:
            raise InputError(f"line {doc.line}: {exc}") from None
        value = codec.encode(subject, record)
        headers: Headers = ()
        if signer is not None:
            binding = Binding(Side(record[_SIDE_FIELD[kind]]), RecordKind(kind), key.encode())
            headers = signer.headers(value, binding, now_ms)
        records.append((key.encode(), value, headers))
    return records


async def publish_records(
    settings: Settings,
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes, bytes, Headers]],
    security: ClientSecurity = PLAINTEXT,
) -> int:
    """Produce ``records`` (key, value, headers) to ``topic``; returns how many were written.

    Raises :class:`BrokerError` naming the topic when it does not exist on the broker (nothing sent).
    """
    from aiokafka import AIOKafkaProducer

    from crossbound.broker.admin import partition_counts

    if topic not in await partition_counts(bootstrap, security=security):
        raise BrokerError(
            f"topic {topic!r} does not exist on {bootstrap}{_or_hidden(security)}: nothing was published. "
            "The worker creates "
            "its topics when it starts (a memory-only broker that restarted has none until then); "
            "check --topic and the deployment's topic prefix"
        )

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=5,
        acks=settings.kafka.aiokafka_acks,
        **security.aiokafka_kwargs(),
    )
    try:
        await producer.start()
        for key, value, headers in records:
            await producer.send(topic, value=value, key=key, headers=list(headers) or None)
        await producer.flush()
    finally:
        await producer.stop()
    return len(records)


def _or_hidden(security: ClientSecurity) -> str:
    # an authorizing broker lists only the topics the user may see: absent may also mean not allowed
    return f" or User:{security.username} may not use it" if security.username else ""


def run(args: argparse.Namespace) -> int:
    """Run ``crossbound publish``."""
    settings = settings_from_args(args)
    if (args.signing_key is None) != (args.key_id is None):
        raise InputError("--signing-key and --key-id go together")
    signer = None if args.signing_key is None else Signer.from_pem_file(args.signing_key, args.key_id)
    docs = read_documents(args.file)
    try:
        records = encode_documents(settings, args.kind, docs, signer)
    except InputError as exc:
        raise InputError(f"{args.file}: {exc}") from None
    broker = connect_broker(settings, "publish")
    count = broker.run(publish_records(settings, broker.bootstrap, args.topic, records, broker.security))
    if args.json:
        print(json.dumps({"published": count, "kind": args.kind, "topic": args.topic}))
    else:
        print(f"published {count} {args.kind}(s) to {args.topic}", file=sys.stderr)
    return 0
