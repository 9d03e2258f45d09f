"""Shared pieces of the integration tests: one broker per engine per session, real worker processes.

The ``broker`` fixture is parametrised by engine, so every test that uses it runs once on the embedded
Tansu and once on Apache Kafka (a single KRaft node); pytest groups the tests by engine, so each broker
starts once. A test that holds only on one engine says so with
``@pytest.mark.parametrize("broker", ["tansu"], indirect=True)``. Every test uses its own topic prefix
and Faust app id, so tests never see each other's records.
"""

from __future__ import annotations

import asyncio
import selectors
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.broker import (
    ENGINES,
    Broker,
    apply_tansu_workarounds,
    ensure_topics,
    make_broker,
    remove_tansu_workarounds,
)
from crossbound.broker.net import free_port
from crossbound.broker.topicspec import topic_specs
from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import Catalogue, load_catalogue
from crossbound.settings import Settings
from crossbound.testing.live import LiveBus
from crossbound.testing.processes import start_worker_process, stop_process, wait_until_ready
from crossbound.topics import Topics


@pytest.fixture(scope="session", params=ENGINES)
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    with make_broker(request.param) as b:
        yield b


@pytest.fixture(autouse=True)
def tansu_clients(request: pytest.FixtureRequest) -> Iterator[None]:
    """On Tansu the tests' own consumers get the worker's client workarounds (undone after); not on Kafka."""
    on_tansu = "broker" in request.fixturenames and request.getfixturevalue("broker").engine == "tansu"
    if on_tansu:
        apply_tansu_workarounds()
    yield
    if on_tansu:
        remove_tansu_workarounds()


@pytest.fixture(scope="session")
def codec() -> Codec:
    return Codec(SchemaRegistry.load(default_schemas_dir()))


@pytest.fixture(scope="session")
def catalogue(codec: Codec) -> Catalogue:
    return load_catalogue(default_rulesets_dir(), codec.registry)


def broker_settings(broker: Broker) -> Settings:
    """What a worker on ``broker`` runs with: the production defaults, lowered to one copy on one node."""
    return Settings() if getattr(broker, "nodes", 1) >= 3 else Settings().single_node()


async def create_topics(broker: Broker, topics: Topics, partitions: int = 4) -> None:
    """Every topic of ``topics`` (changelogs included) as the worker itself would create it."""
    await ensure_topics(
        broker.bootstrap, topic_specs(topics, broker_settings(broker).topic_settings(), partitions)
    )


def read_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """The next line a child process prints, or AssertionError after ``timeout_s``."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            raise AssertionError(f"{proc.args!r} printed nothing within {timeout_s} s")
    return proc.stdout.readline()


def end_process(proc: subprocess.Popen[str], grace_s: float) -> None:
    """Teardown of a CLI process a test started: SIGTERM (so it can stop what it runs), SIGKILL after
    ``grace_s``; its pipes closed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@dataclass
class Worker:
    """A real `crossbound worker` process on its own topics."""

    broker: Broker
    topics: Topics
    log_path: Path
    timeout_s: float = 2.0
    partitions: int = 4
    metrics_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    extra: list[str] = field(default_factory=list)

    def start(self) -> Worker:
        self.proc = start_worker_process(
            self.broker.url,
            metrics_port=self.metrics_port,
            log_path=self.log_path,
            tansu=self.broker.engine == "tansu",
            extra=[
                "--replication-factor",
                str(broker_settings(self.broker).topic_settings().verdicts.replication_factor),
                "--app-id",
                self.topics.app_id,
                "--topic-prefix",
                self.topics.prefix,
                "--attestation-timeout",
                str(self.timeout_s),
                "--partitions",
                str(self.partitions),
                *self.extra,
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
async def worker(broker: Broker, topics: Topics, tmp_path: Path) -> AsyncIterator[Worker]:
    await create_topics(broker, topics)
    w = Worker(broker, topics, tmp_path / "worker.log").start()
    try:
        await asyncio.to_thread(wait_until_ready, w.proc, w.metrics_port, 60.0)  # type: ignore[arg-type]
    except BaseException:
        w.stop()
        raise
    try:
        yield w
    finally:
        w.stop()
        assert "Traceback" not in w.log(), w.log()[-3000:]


Bus = LiveBus  # the library's own simulated institutions and data holders


@pytest.fixture
async def bus(broker: Broker, topics: Topics, codec: Codec, catalogue: Catalogue) -> AsyncIterator[Bus]:
    async with Bus(broker.bootstrap, topics, codec, catalogue) as b:
        yield b
