"""Topic administration that works on Tansu 0.6.0 and on a real Kafka.

Topics are created explicitly (never by producer auto-create: on Tansu an auto-created topic gets 4
partitions and is forgotten by ``list_topics`` after a broker restart, see ``docs/broker.md``).
Tansu answers a duplicate CreateTopics with error code 36 (TOPIC_ALREADY_EXISTS) inside the
response and aiokafka does not raise, so the response is inspected; afterwards the partition counts
are verified with a Metadata request for all topics (which, unlike a per-topic Metadata request,
cannot auto-create a missing topic).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, for_code

from crossbound.errors import BrokerError

__all__ = ["ensure_topics", "wait_for_broker"]

_NO_ERROR = 0
_TOPIC_ALREADY_EXISTS = 36


def _request_timeout_ms(timeout_s: float) -> int:
    return max(1000, int(timeout_s * 1000))


async def _started_admin(bootstrap: str, timeout_s: float) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="crossbound-admin",
        request_timeout_ms=_request_timeout_ms(timeout_s),
    )
    try:
        await admin.start()
    except BaseException:
        await admin.close()
        raise
    return admin


async def wait_for_broker(bootstrap: str, timeout_s: float = 10.0) -> None:
    """Wait until a Kafka Metadata round trip to ``bootstrap`` succeeds; BrokerError on timeout."""
    deadline = time.monotonic() + timeout_s
    last: str = "no attempt made"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrokerError(f"no Kafka broker answered at {bootstrap} within {timeout_s:g} s ({last})")
        try:
            async with asyncio.timeout(remaining):
                admin = await _started_admin(bootstrap, remaining)
                try:
                    await admin.describe_cluster()
                finally:
                    await admin.close()
            return
        except TimeoutError:
            last = "timed out"
        except (KafkaError, OSError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _create_errors(response: Any, wanted: Mapping[str, int]) -> list[str]:
    """Problems reported inside a CreateTopics response, ignoring TOPIC_ALREADY_EXISTS."""
    problems = []
    for entry in response.to_object().get("topic_errors", []):
        code = entry["error_code"]
        if code in (_NO_ERROR, _TOPIC_ALREADY_EXISTS) or entry["topic"] not in wanted:
            continue
        message = entry.get("error_message") or ""
        problems.append(f"{entry['topic']!r}: {for_code(code).__name__} (code {code}) {message}".rstrip())
    return problems


def _partition_counts(described: list[dict[str, Any]]) -> dict[str, int]:
    return {
        topic["topic"]: len(topic["partitions"]) for topic in described if topic.get("error_code", 0) == 0
    }


async def ensure_topics(bootstrap: str, topics: Mapping[str, int], *, timeout_s: float = 15) -> None:
    """Create ``topics`` (name -> partition count, replication factor 1) unless they exist.

    Raises :class:`BrokerError` if the broker cannot be reached, rejects a topic, or a topic exists
    with a partition count other than the one requested (partitions cannot be changed on Tansu).
    """
    if not topics:
        return
    for name, partitions in topics.items():
        if not name or partitions < 1:
            raise ValueError(f"topic {name!r}: partition count must be >= 1, got {partitions}")
    not_visible: list[str] = []
    try:
        async with asyncio.timeout(timeout_s):
            admin = await _started_admin(bootstrap, timeout_s)
            try:
                await _ensure(admin, topics, not_visible)
            finally:
                await admin.close()
    except TimeoutError as exc:
        detail = f" (not in metadata: {sorted(not_visible)})" if not_visible else ""
        raise BrokerError(
            f"creating topics {sorted(topics)} on {bootstrap} did not finish within {timeout_s:g} s{detail}"
        ) from exc
    except KafkaError as exc:
        raise BrokerError(f"creating topics {sorted(topics)} on {bootstrap} failed: {exc!r}") from exc


async def _ensure(admin: AIOKafkaAdminClient, topics: Mapping[str, int], not_visible: list[str]) -> None:
    response = await admin.create_topics(
        [NewTopic(name, num_partitions=count, replication_factor=1) for name, count in topics.items()]
    )
    problems = _create_errors(response, topics)
    if problems:
        raise BrokerError("cannot create topic(s): " + "; ".join(problems))

    # Verify; a just-created topic may take a moment to show up in metadata.
    delay = 0.02
    while True:
        counts = _partition_counts(await admin.describe_topics())
        not_visible[:] = [name for name in topics if name not in counts]
        if not not_visible:
            break
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)
    wrong = {name: counts[name] for name, want in topics.items() if counts[name] != want}
    if wrong:
        raise BrokerError(
            "topic(s) exist with a different partition count: "
            + "; ".join(f"{name!r} has {got}, wanted {topics[name]}" for name, got in sorted(wrong.items()))
        )
