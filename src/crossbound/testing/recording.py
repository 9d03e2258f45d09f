"""Record topics and replay them: for integrators who test against real traffic.

A recording is JSON lines, one record each, with everything Kafka knows about it::

    {"topic": "hk.requests", "partition": 2, "offset": 41, "timestamp_ms": 1795550279407,
     "key": "<hex>", "value": "<hex>", "headers": [["crossbound.reason", "<hex>"]]}

``record`` reads topics from the beginning without joining a consumer group (it commits nothing and
disturbs no one) until they have been idle for a while; ``replay`` publishes a recording again, to
the same partitions, optionally under another topic prefix; ``Harness.replay`` (in
:mod:`crossbound.testing`) feeds one to the pipeline without a broker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from crossbound.broker.admin import partition_counts
from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.errors import InputError

__all__ = ["Recorded", "read_jsonl", "record", "replay", "write_jsonl"]


@dataclass(frozen=True, slots=True)
class Recorded:
    """One record as it was on the broker."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON-lines form."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "key": None if self.key is None else self.key.hex(),
            "value": None if self.value is None else self.value.hex(),
            "headers": [[k, v.hex()] for k, v in self.headers],
        }

    @classmethod
    def from_json(cls, obj: Any) -> Recorded:
        """Inverse of :meth:`to_json`; :class:`InputError` names what is wrong."""
        try:
            return cls(
                topic=str(obj["topic"]),
                partition=int(obj["partition"]),
                offset=int(obj["offset"]),
                timestamp_ms=None if obj.get("timestamp_ms") is None else int(obj["timestamp_ms"]),
                key=None if obj.get("key") is None else bytes.fromhex(obj["key"]),
                value=None if obj.get("value") is None else bytes.fromhex(obj["value"]),
                headers=tuple((str(k), bytes.fromhex(v)) for k, v in obj.get("headers", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a recorded record: {exc!r}") from None


def write_jsonl(records: Iterable[Recorded], path: Path) -> int:
    """Write a recording; returns how many records."""
    n = 0
    with path.open("w", encoding="utf-8") as out:
        for rec in records:
            out.write(json.dumps(rec.to_json(), separators=(",", ":")) + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> list[Recorded]:
    """Read a recording; an unusable line raises :class:`InputError` naming its number."""
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(Recorded.from_json(json.loads(line)))
        except (json.JSONDecodeError, InputError) as exc:
            raise InputError(f"{path}: line {number}: {exc}") from None
    return records


async def record(
    bootstrap: str,
    topics: Sequence[str],
    *,
    idle_s: float = 2.0,
    limit: int | None = None,
    security: ClientSecurity = PLAINTEXT,
) -> list[Recorded]:
    """Every record of ``topics`` from the beginning, until none arrived for ``idle_s`` (or ``limit``)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **security.aiokafka_kwargs()
    )
    try:
        await consumer.start()  # inside: a refused start (bad credentials) still stops the consumer
        tps: list[TopicPartition] = []
        counts = await partition_counts(bootstrap, security=security)
        for topic in topics:
            if not counts.get(topic):
                hidden = f" or User:{security.username} may not read it" if security.username else ""
                raise InputError(f"topic {topic!r} does not exist{hidden}")
            tps.extend(TopicPartition(topic, p) for p in range(counts[topic]))
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[Recorded] = []
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle_s and (limit is None or len(out) < limit):
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, messages in batch.items():
                out.extend(
                    Recorded(tp.topic, tp.partition, m.offset, m.timestamp, m.key, m.value, tuple(m.headers))
                    for m in messages
                )
                quiet_since = time.monotonic()
        return out[:limit] if limit is not None else out
    finally:
        await consumer.stop()


async def replay(
    bootstrap: str,
    records: Iterable[Recorded],
    *,
    rename: Callable[[str], str] | None = None,
    respond: bool = False,
    idle_s: float = 5.0,
    security: ClientSecurity = PLAINTEXT,
) -> int:
    """Publish a recording again, each record to its own partition (topics renamed by ``rename``).

    Kafka orders records within a partition, not across topics: an attestation replayed at full
    speed can overtake its own request and be dead-lettered as an orphan. With ``respond``, recorded
    attestations are held back and sent only when the pipeline asks for them (on its
    ``*.attestation-requests`` topics), as the data holders did; the replay ends when every held
    attestation was asked for, or nothing was asked for ``idle_s`` seconds.
    """
    ordered = sorted(records, key=lambda r: (r.timestamp_ms or 0, r.topic, r.partition, r.offset))
    held: dict[tuple[str, bytes | None], Recorded] = {}
    if respond:
        for rec in ordered:
            if rec.topic.endswith(".attestations"):
                held[(_asks_for(rec.topic), rec.key)] = rec
        ordered = [r for r in ordered if not r.topic.endswith(".attestations")]
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=5,
        max_request_size=4 * 1024 * 1024,
        **security.aiokafka_kwargs(),
    )
    await producer.start()
    sent = 0

    async def send(rec: Recorded, partition: int) -> None:
        nonlocal sent
        topic = rename(rec.topic) if rename else rec.topic
        headers = list(rec.headers) or None
        await producer.send(topic, value=rec.value, key=rec.key, partition=partition, headers=headers)
        sent += 1

    try:
        for rec in ordered:
            await send(rec, rec.partition)
        await producer.flush()
        if held:
            asks = {asks_topic for asks_topic, _ in held}
            by_renamed = {(rename(t) if rename else t): t for t in asks}
            consumer = AIOKafkaConsumer(
                *by_renamed,
                bootstrap_servers=bootstrap,
                auto_offset_reset="earliest",
                **security.aiokafka_kwargs(),
            )
            await consumer.start()
            try:
                quiet_since = time.monotonic()
                while held and time.monotonic() - quiet_since < idle_s:
                    batch = await consumer.getmany(timeout_ms=200)
                    for tp, messages in batch.items():
                        for m in messages:
                            answer = held.pop((by_renamed[tp.topic], m.key), None)
                            if answer is not None:
                                await send(answer, tp.partition)
                                quiet_since = time.monotonic()
                await producer.flush()
            finally:
                await consumer.stop()
    finally:
        await producer.stop()
    return sent


def _asks_for(attestations_topic: str) -> str:
    """``<prefix><side>.attestations`` -> ``<prefix><side>.attestation-requests``: where it was asked."""
    return attestations_topic.removesuffix(".attestations") + ".attestation-requests"
