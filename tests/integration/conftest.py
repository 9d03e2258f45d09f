"""Shared pieces of the integration tests: one embedded broker per session, real worker processes.

Every test uses its own topic prefix and Faust app id, so tests never see each other's records.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from crossbound.broker import EmbeddedBroker, apply_tansu_workarounds, ensure_topics, remove_tansu_workarounds
from crossbound.codec import Codec, SchemaRegistry
from crossbound.jsonform import attestation_from_json, request_from_json
from crossbound.paths import default_rulesets_dir, default_schemas_dir
from crossbound.rules import Catalogue, load_catalogue
from crossbound.simulate import Case
from crossbound.supervise import start_worker_process, stop_process, wait_until_ready
from crossbound.topics import SIDES, Topics


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        yield b


@pytest.fixture(autouse=True)
def tansu_clients() -> Iterator[None]:
    """The tests' own consumers talk to Tansu: same client workarounds as the worker, undone after."""
    apply_tansu_workarounds()
    yield
    remove_tansu_workarounds()


@pytest.fixture(scope="session")
def codec() -> Codec:
    return Codec(SchemaRegistry.load(default_schemas_dir()))


@pytest.fixture(scope="session")
def catalogue(codec: Codec) -> Catalogue:
    return load_catalogue(default_rulesets_dir(), codec.registry)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Worker:
    """A real `crossbound worker` process on its own topics."""

    broker: EmbeddedBroker
    topics: Topics
    log_path: Path
    timeout_s: float = 2.0
    partitions: int = 4
    metrics_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        self.proc = start_worker_process(
            self.broker.url,
            metrics_port=self.metrics_port,
            log_path=self.log_path,
            extra=[
                "--app-id",
                self.topics.app_id,
                "--topic-prefix",
                self.topics.prefix,
                "--attestation-timeout",
                str(self.timeout_s),
                "--partitions",
                str(self.partitions),
            ],
        )
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            import os
            import signal

            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metrics(self) -> str:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())


@pytest.fixture
def topics() -> Topics:
    tag = uuid.uuid4().hex[:8]
    return Topics(prefix=f"t{tag}.", app_id=f"cb{tag}")


@pytest.fixture
async def worker(broker: EmbeddedBroker, topics: Topics, tmp_path: Path) -> AsyncIterator[Worker]:
    await ensure_topics(broker.bootstrap, dict.fromkeys(topics.all(), 4))
    w = Worker(broker, topics, tmp_path / "worker.log").start()
    await asyncio.to_thread(wait_until_ready, w.proc, w.metrics_port, 60.0)  # type: ignore[arg-type]
    try:
        yield w
    finally:
        w.stop()
        assert "Traceback" not in w.log(), w.log()[-3000:]


class Bus:
    """Institutions and data holders on both sides, talking to the worker through the broker."""

    def __init__(self, bootstrap: str, topics: Topics, codec: Codec, catalogue: Catalogue) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.codec = codec
        self.catalogue = catalogue
        self.answers: dict[bytes, tuple[str, bytes]] = {}
        self.verdicts: dict[str, list[dict[str, Any]]] = {}
        self.dead_letters: list[tuple[bytes | None, dict[str, Any], list[tuple[str, bytes]]]] = []
        self.attestation_requests: list[dict[str, Any]] = []
        self._producer: AIOKafkaProducer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    async def __aenter__(self) -> Bus:
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=2)
        await self._producer.start()
        self._tasks = [asyncio.create_task(self._holders()), asyncio.create_task(self._collect())]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        assert self._producer is not None
        await self._producer.stop()

    @property
    def producer(self) -> AIOKafkaProducer:
        assert self._producer is not None
        return self._producer

    async def _consume(self, topics: list[str]) -> AsyncIterator[Any]:
        consumer = AIOKafkaConsumer(
            *topics, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
        )
        await consumer.start()
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                for messages in batch.values():
                    for msg in messages:
                        yield msg
        finally:
            await consumer.stop()

    async def _holders(self) -> None:
        async for msg in self._consume([self.topics.attestation_requests(s) for s in SIDES]):
            self.attestation_requests.append(self.codec.decode(msg.value)[1])
            answer = self.answers.get(msg.key)
            if answer is not None:
                await self.producer.send(answer[0], value=answer[1], key=msg.key, partition=msg.partition)

    async def _collect(self) -> None:
        verdicts = [self.topics.verdicts(s) for s in SIDES]
        async for msg in self._consume(verdicts + [self.topics.deadletter(s) for s in SIDES]):
            record = self.codec.decode(msg.value)[1]
            if msg.topic in verdicts:
                self.verdicts.setdefault(record["request_id"], []).append(record)
            else:
                self.dead_letters.append((msg.key, record, list(msg.headers)))

    async def send_case(self, case: Case, *, answer: bool = True) -> str:
        """Publish a case's request; register its attestation to be sent when asked."""
        assert case.request is not None
        record = request_from_json(case.request, self.codec, self.catalogue)
        key = record["request_id"].encode()
        if answer and case.attestation is not None:
            att = attestation_from_json(case.attestation, self.codec, self.catalogue)
            side = str(case.attestation["attester_side"]).lower()
            self.answers[key] = (self.topics.attestations(side), self.codec.encode("core/attestation", att))
        side = str(case.request["requester_side"]).lower()
        await self.producer.send(
            self.topics.requests(side), value=self.codec.encode("core/request", record), key=key
        )
        return str(record["request_id"])

    async def send_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        await self.producer.send(topic, value=value, key=key)

    def answered(self) -> int:
        return len(self.verdicts) + len(self.dead_letters)

    async def wait_for(self, predicate: Any, timeout_s: float = 60.0, what: str = "") -> None:
        await self.producer.flush()
        end = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > end:
                raise AssertionError(
                    f"timed out waiting for {what}: {len(self.verdicts)} verdicts, "
                    f"{len(self.dead_letters)} dead letters"
                )
            await asyncio.sleep(0.1)


@pytest.fixture
async def bus(
    broker: EmbeddedBroker, topics: Topics, codec: Codec, catalogue: Catalogue
) -> AsyncIterator[Bus]:
    async with Bus(broker.bootstrap, topics, codec, catalogue) as b:
        yield b
