"""The integration tests' fixtures: Tansu's client workarounds, a real worker and a bus on own topics.

The brokers (``broker``, one per engine per session) and the shared fixtures are in ``tests/conftest.py``;
``Worker``, ``Bus`` and the process helpers are in the :mod:`support` module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from crossbound.broker import Broker, apply_tansu_workarounds, remove_tansu_workarounds
from crossbound.codec import Codec
from crossbound.rules import Catalogue
from crossbound.topics import Topics
from support import Bus, Worker, create_topics


@pytest.fixture(autouse=True)
def tansu_clients(request: pytest.FixtureRequest) -> Iterator[None]:
    """On Tansu the tests' own consumers get the worker's client workarounds (undone after); not on Kafka."""
    on_tansu = "broker" in request.fixturenames and request.getfixturevalue("broker").engine == "tansu"
    if on_tansu:
        apply_tansu_workarounds()
    yield
    if on_tansu:
        remove_tansu_workarounds()


@pytest.fixture
async def worker(broker: Broker, topics: Topics, tmp_path: Path) -> AsyncIterator[Worker]:
    await create_topics(broker, topics)
    w = Worker(broker, topics, tmp_path / "worker.log").start()
    await asyncio.to_thread(w.wait_ready, 60.0)
    try:
        yield w
    finally:
        w.stop()
        assert "Traceback" not in w.log(), w.log()[-3000:]


@pytest.fixture
async def bus(broker: Broker, topics: Topics, codec: Codec, catalogue: Catalogue) -> AsyncIterator[Bus]:
    async with Bus(broker.bootstrap, topics, codec, catalogue) as b:
        yield b
