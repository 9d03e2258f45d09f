"""The integration tests' worker and bus fixtures: a real worker process on this test's own topics.

The brokers (``broker``, one per engine per session) and the shared fixtures are in ``tests/conftest.py``;
``Worker``, ``Bus`` and the process helpers are in the :mod:`support` module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crossbound.broker import Broker
from crossbound.codec import Codec
from crossbound.rules import Catalogue
from crossbound.topics import Topics
from support import Bus, Worker, create_topics


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
