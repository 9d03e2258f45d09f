"""``crossbound publish``: JSON lines in, encoded records out, keyed by request_id."""

from __future__ import annotations

import json
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from crossbound.codec import Codec, SchemaRegistry
from crossbound.codec.jsonform import attestation_from_json, request_from_json
from crossbound.errors import InputError
from crossbound.rules import load_catalogue
from crossbound.settings import Settings

__all__ = ["encode_lines", "publish_lines"]


def encode_lines(settings: Settings, kind: str, lines: Sequence[str]) -> list[tuple[bytes, bytes]]:
    """Encode every non-empty line; an unusable line stops everything, naming its line number."""
    registry = SchemaRegistry.load(settings.pipeline.schemas_dir)
    codec = Codec(registry, settings.pipeline.max_record_bytes)
    catalogue = load_catalogue(settings.pipeline.rulesets_dir, registry)
    convert = request_from_json if kind == "request" else attestation_from_json
    subject = "core/request" if kind == "request" else "core/attestation"
    records: list[tuple[bytes, bytes]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = convert(json.loads(line), codec, catalogue)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {number}: not JSON ({exc.msg})") from None
        except InputError as exc:
            raise InputError(f"line {number}: {exc}") from None
        records.append((record["request_id"].encode(), codec.encode(subject, record)))
    return records


async def publish_lines(settings: Settings, topic: str, kind: str, lines: Sequence[str]) -> int:
    """Encode and produce; returns how many records were written."""
    records = encode_lines(settings, kind, lines)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers, linger_ms=5, acks=settings.kafka.aiokafka_acks
    )
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return len(records)
