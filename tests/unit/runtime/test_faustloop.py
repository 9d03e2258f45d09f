"""Faust's consumer loop with the ``direct_delivery`` speed-up (crossbound.runtime.faustloop), no broker.

The patched ``Consumer._drain_messages`` runs on a stand-in consumer (a mode Service, for Faust's own
``wait_first``) beside Faust's unpatched loop on the same input: the same records reach the callback
in the same order with the same read offsets, a delivery that waits is still abandoned when the flow
is suspended, and one that need not wait costs no race.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Coroutine
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.consumer import Consumer
from mode import Service

from crossbound.runtime import faustloop
from crossbound.runtime.faustloop import LOOP_SPEEDUPS, drain_messages, install_loop_speedups

STOCK_DRAIN = Consumer._drain_messages


class Fetcher:
    def __init__(self) -> None:
        self._stopped = asyncio.Event()


class LoopConsumer(Service):
    """What Faust's ``_drain_messages`` reads of its consumer, around scripted ``getmany`` batches."""

    consumer_stopped_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, batches: list[list[tuple[str, int]]], fetcher: Fetcher, fast: bool) -> None:
        super().__init__()
        self.batches = list(batches)
        self.fetcher = fetcher
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True))
        install_loop_speedups(self.app, LOOP_SPEEDUPS if fast else ())
        self.transport = SimpleNamespace(app=SimpleNamespace(should_stop=False))
        self._read_offset: defaultdict[str, int | None] = defaultdict(lambda: None)
        self._commit_every = None
        self._n_acked = 0
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
        self.suspend_flow = asyncio.Event()
        self.gaps: list[tuple[str, int, int]] = []
        self.races = 0
        self.callback: Callable[[Any], Coroutine[Any, Any, None]] = self._no_callback

    async def _no_callback(self, message: Any) -> None:
        raise AssertionError("no callback set")

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[str, Any]]:  # noqa: ASYNC109
        batch = self.batches.pop(0) if self.batches else []
        if not self.batches:
            self.fetcher._stopped.set()  # the loop ends after this batch
        for tp, offset in batch:
            yield tp, SimpleNamespace(topic="t", tp=tp, offset=offset, key=b"k", value=b"v")

    async def _add_gap(self, tp: str, start: int, stop: int) -> None:
        self.gaps.append((tp, start, stop))

    async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:  # noqa: ASYNC109
        self.races += 1
        return await super().wait_first(*coros, timeout=timeout)


BATCHES = [
    [("p0", 0), ("p1", 0), ("p0", 1), ("p0", 2), ("p1", 1)],
    [("p1", 2), ("p0", 3), ("p0", 5), ("p1", 3)],  # a gap on p0 (4)
    [("p0", 4), ("p0", 6)],  # a record behind the read offset (4 < 5): dropped by both loops
]


async def _run(fast: bool, make_callback: Callable[[LoopConsumer, list[tuple[str, int]]], Any]) -> Any:
    fetcher = Fetcher()
    consumer = LoopConsumer(BATCHES, fetcher, fast)
    delivered: list[tuple[str, int]] = []
    consumer.callback = make_callback(consumer, delivered)
    drain = drain_messages if fast else STOCK_DRAIN
    await asyncio.wait_for(drain(consumer, fetcher), 5)
    return consumer, delivered


def _immediate(consumer: LoopConsumer, delivered: list[tuple[str, int]]) -> Any:
    async def callback(message: Any) -> None:
        delivered.append((message.tp, message.offset))

    return callback


def _through_small_buffer(consumer: LoopConsumer, delivered: list[tuple[str, int]]) -> Any:
    """Each record through a one-slot queue that a reader empties: every other put waits."""
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue(maxsize=1)

    async def reader() -> None:
        while True:
            delivered.append(await queue.get())
            await asyncio.sleep(0)

    consumer.add_future(reader())

    async def callback(message: Any) -> None:
        await queue.put((message.tp, message.offset))  # waits while the reader has not taken the last
        if message.offset == 3:
            await asyncio.sleep(0)  # a second suspension in the same delivery

    return callback


EXPECTED = [("p0", 0), ("p1", 0), ("p0", 1), ("p0", 2), ("p1", 1), ("p1", 2), ("p0", 3), ("p0", 5), ("p1", 3)]
EXPECTED += [("p0", 6)]


async def test_records_reach_the_callback_in_order_as_in_fausts_loop_and_without_a_race() -> None:
    stock, stock_delivered = await _run(False, _immediate)
    fast, fast_delivered = await _run(True, _immediate)
    assert fast_delivered == stock_delivered == EXPECTED
    assert dict(fast._read_offset) == dict(stock._read_offset) == {"p0": 6, "p1": 3}
    assert fast.gaps == stock.gaps == [("p0", 4, 5)]
    assert (stock.races, fast.races) == (len(EXPECTED), 0)


async def test_deliveries_that_wait_are_raced_and_still_complete_in_order() -> None:
    stock, stock_delivered = await _run(False, _through_small_buffer)
    fast, fast_delivered = await _run(True, _through_small_buffer)
    await asyncio.sleep(0.01)  # the reader takes the last record
    assert fast_delivered == stock_delivered == EXPECTED
    assert dict(fast._read_offset) == dict(stock._read_offset)
    assert 0 < fast.races < len(EXPECTED)


@pytest.mark.parametrize("fast", [False, True])
async def test_a_suspension_abandons_a_waiting_delivery_and_the_loop_goes_on(fast: bool) -> None:
    gate = asyncio.Event()
    completed: list[int] = []
    cancelled: list[int] = []

    def make(consumer: LoopConsumer, delivered: list[tuple[str, int]]) -> Any:
        async def callback(message: Any) -> None:
            if message.offset == 1 and message.tp == "p0":
                asyncio.get_running_loop().call_later(0.01, consumer.suspend_flow.set)
                try:
                    await gate.wait()  # never set: only the suspension ends this delivery
                except asyncio.CancelledError:
                    cancelled.append(message.offset)
                    raise
            completed.append(message.offset)
            delivered.append((message.tp, message.offset))

        return callback

    _, delivered = await _run(fast, make)
    assert cancelled == [1]
    assert ("p0", 1) not in delivered
    assert delivered == [r for r in EXPECTED if r != ("p0", 1)]


@pytest.mark.parametrize("fast", [False, True])
async def test_a_callback_error_stops_the_loop_as_in_fausts(fast: bool) -> None:
    def make(consumer: LoopConsumer, delivered: list[tuple[str, int]]) -> Any:
        async def callback(message: Any) -> None:
            if message.offset == 2:
                raise ValueError("undecodable")
            delivered.append((message.tp, message.offset))

        return callback

    with pytest.raises(ValueError, match="undecodable"):
        await _run(fast, make)


async def test_resumed_delivery_passes_results_and_cancellation_into_the_callback() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    cleaned: list[str] = []

    async def waits() -> int:
        try:
            got = await future
            await asyncio.sleep(0)
            return got + 1
        finally:
            cleaned.append("done")

    coro = waits()
    first = coro.send(None)
    task = asyncio.ensure_future(faustloop._finish(coro, first))
    await asyncio.sleep(0)
    future.set_result(41)
    assert await task == 42

    future = asyncio.get_running_loop().create_future()
    coro = waits()
    task = asyncio.ensure_future(faustloop._finish(coro, coro.send(None)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["done", "done"]
    assert future.cancelled()


def test_another_faust_version_is_not_patched(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    monkeypatch.setattr(faust, "__version__", "0.16.0")
    app = SimpleNamespace()
    with caplog.at_level(logging.WARNING, logger="crossbound.runtime.faustloop"):
        assert install_loop_speedups(app, LOOP_SPEEDUPS) == frozenset()
    assert "0.16.0 is not 0.15.3" in caplog.text
    assert faustloop.loop_speedups_of(app) == frozenset()


def test_an_app_left_stock_runs_fausts_loop() -> None:
    app = SimpleNamespace()
    assert install_loop_speedups(app, ()) == frozenset()
    assert faustloop.loop_speedups_of(app) == frozenset()
    assert install_loop_speedups(app, ["direct_delivery", "quiet_monitor"]) == {"direct_delivery"}
    assert Consumer._drain_messages is drain_messages
