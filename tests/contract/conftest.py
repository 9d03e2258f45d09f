"""The ``transport`` fixture: every contract test runs on ``memory`` and on each broker engine.

``memory`` is the broker-free Harness; ``tansu`` and ``kafka`` are one real worker process per engine,
started once for the session on its own topics and shared by the tests (each test sends its own
request ids and keys, and its transport reads only those). The broker variants carry the
``integration`` marker, so ``-m "not integration"`` runs the memory variant alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from transports import PARTITIONS, TIMEOUT_S, BrokerTransport, MemoryTransport, Transport

from crossbound.broker import apply_tansu_workarounds, remove_tansu_workarounds
from crossbound.codec import Codec
from crossbound.rules import Catalogue
from support import Brokers, Worker, create_topics, unique_topics


class Workers:
    """One worker per engine for the contract tests, started on first use, stopped at the end."""

    def __init__(self, brokers: Brokers, logs: Path) -> None:
        self.brokers = brokers
        self.logs = logs
        self.running: dict[str, Worker] = {}

    async def get(self, engine: str) -> Worker:
        if engine not in self.running:
            broker = self.brokers.get(engine)
            topics = unique_topics("c")
            await create_topics(broker, topics, PARTITIONS)
            worker = Worker(broker, topics, self.logs / f"{engine}.log", TIMEOUT_S, PARTITIONS).start()
            await asyncio.to_thread(worker.wait_ready)
            self.running[engine] = worker
        return self.running[engine]

    def close(self) -> None:
        for worker in self.running.values():
            worker.stop()
        for worker in self.running.values():
            assert "Traceback" not in worker.log(), worker.log()[-3000:]


@pytest.fixture(scope="session")
def contract_workers(brokers: Brokers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    workers = Workers(brokers, tmp_path_factory.mktemp("contract-workers"))
    yield workers
    workers.close()


@pytest.fixture(
    scope="session",
    params=[
        "memory",
        pytest.param("tansu", marks=pytest.mark.integration),
        pytest.param("kafka", marks=pytest.mark.integration),
    ],
)
def engine(request: pytest.FixtureRequest) -> str:
    """Where the pipeline runs (session-scoped, so pytest groups the tests by it)."""
    return str(request.param)


@pytest.fixture
async def transport(
    engine: str, codec: Codec, catalogue: Catalogue, contract_workers: Workers
) -> AsyncIterator[Transport]:
    if engine == "memory":
        yield MemoryTransport(codec, catalogue)
        return
    worker = await contract_workers.get(engine)
    if engine == "tansu":  # our own consumer gets the worker's client workarounds
        apply_tansu_workarounds()
    try:
        async with BrokerTransport(engine, worker.broker.bootstrap, worker.topics, codec, catalogue) as t:
            yield t
    finally:
        if engine == "tansu":
            remove_tansu_workarounds()
