"""Faust's ``take_events`` with the ``direct_take`` speed-up (crossbound.runtime.fausttake), no broker.

A real Faust stream over an in-memory channel, fed events of an acking topic, taken once by Faust's
own ``take_events`` and once by the speed-up's: the same events in the same order, none twice, none
lost; batches of at most ``max_``; each batch's events acked (offsets for the commit) only when the
agent asks for the next batch; events of another generation or taken while the flow is suspended
dropped by both; and an idle stream does not wake per batch window.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import faust
import pytest
from faust.events import Event
from faust.types.tuples import ConsumerMessage

from crossbound.runtime import fausttake
from crossbound.runtime.faustloop import install_loop_speedups

TOPIC = "requests"
_apps = iter(range(10**6))


def _app(fast: bool) -> Any:
    app = faust.App(
        f"cbtake{next(_apps)}", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False
    )
    install_loop_speedups(app, ("direct_take",) if fast else ())
    app.flow_control.resume()
    app.topics._acking_topics.add(TOPIC)
    return app


def _event(app: Any, partition: int, offset: int, generation: int | None = None) -> Any:
    gen = app.consumer_generation_id if generation is None else generation
    message = ConsumerMessage(TOPIC, partition, offset, 0.0, 0, None, b"k", b"v", None, generation_id=gen)
    message.incref()  # as the conductor does, once per channel it delivers to
    return Event(app, b"k", b"v", None, message)


async def _take(
    fast: bool,
    feed: Callable[[Any, Any], Any],
    total: int,
    *,
    max_: int = 10,
    within: float = 0.005,
    check: Callable[[Any, list[Any], list[list[Any]]], None] | None = None,
) -> tuple[Any, list[list[tuple[int, int]]]]:
    """The batches (partition, offset) that ``take_events`` yields until ``total`` events came."""
    app = _app(fast)
    stream = app.channel().stream()
    await stream.maybe_start()
    feeder = asyncio.ensure_future(feed(app, stream.channel.queue))
    batches: list[list[Any]] = []
    gen = stream.take_events(max_, within=within)
    assert (gen.ag_code is fausttake.take_events.__code__) is fast

    async def consume() -> None:
        async for events in gen:
            if check is not None:
                check(app, events, batches)
            batches.append(events)
            await asyncio.sleep(random.random() * 0.002)  # the agent's work
            if sum(map(len, batches)) >= total:
                break

    try:
        await asyncio.wait_for(consume(), 10)
    finally:
        await gen.aclose()
        feeder.cancel()
        await stream.stop()
        app.consumer._thread.thread_loop.close()  # the consumer's thread's loop, never started here
    return app, [[(e.message.partition, e.message.offset) for e in batch] for batch in batches]


def _bursts(n: int, seed: int) -> Callable[[Any, Any], Any]:
    """``n`` events over two partitions, in bursts with pauses shorter and longer than a window."""

    async def feed(app: Any, queue: Any) -> None:
        rng = random.Random(seed)
        offsets = [0, 0]
        for _ in range(n):
            partition = rng.randrange(2)
            await queue.put(_event(app, partition, offsets[partition]))
            offsets[partition] += 1
            if rng.random() < 0.2:
                await asyncio.sleep(rng.choice((0, 0.001, 0.004, 0.012)))

    return feed


def _acks_only_after_the_batch(app: Any, events: list[Any], before: list[list[Any]]) -> None:
    assert not any(e.message.acked for e in events)  # handed over, not yet processed
    assert all(e.message.acked for batch in before for e in batch)  # the agent asked again: acked
    assert all(e.message in app.consumer._unacked_messages for e in events)  # tracked when taken


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_same_events_in_the_same_order_as_fausts_take_events(seed: int) -> None:
    stock_app, stock = await _take(False, _bursts(300, seed), 300, check=_acks_only_after_the_batch)
    fast_app, fast = await _take(True, _bursts(300, seed), 300, check=_acks_only_after_the_batch)
    flat = [record for batch in fast for record in batch]
    assert flat == [record for batch in stock for record in batch]
    assert len(flat) == len(set(flat)) == 300
    assert max(map(len, fast)) <= 10
    assert min(map(len, fast)) >= 1
    for app in (stock_app, fast_app):  # every event acked: the offsets the commit may pass
        assert not app.consumer._unacked_messages
        assert {tp.partition: sorted(offs) for tp, offs in app.consumer._acked.items()} == {
            p: sorted(o for q, o in flat if q == p) for p in (0, 1)
        }


async def test_a_full_batch_is_yielded_at_once_and_never_larger() -> None:
    async def at_once(app: Any, queue: Any) -> None:
        for offset in range(25):
            await queue.put(_event(app, 0, offset))

    for fast in (False, True):
        _, batches = await _take(fast, at_once, 20, within=10.0)  # the window never ends: full only
        assert [len(b) for b in batches[:2]] == [10, 10], fast


async def test_events_of_another_generation_or_a_suspended_flow_are_dropped_unacked() -> None:
    dropped: list[Any] = []

    async def mixed(app: Any, queue: Any) -> None:
        for offset in range(12):
            if offset in (3, 4):
                event = _event(app, 0, offset, generation=app.consumer_generation_id + 1)
                dropped.append(event)
            else:
                event = _event(app, 0, offset)
            await queue.put(event)
        await asyncio.sleep(0.02)
        app.flow_control.suspend()  # a rebalance begins: what is queued then is not taken
        late = _event(app, 0, 12)
        dropped.append(late)
        queue.put_nowait(late)
        await asyncio.sleep(0.02)
        app.flow_control._suspend.clear()  # flowing again (without Faust's clearing of the queues)
        app.flow_control._resume.set()
        await queue.put(_event(app, 0, 13))

    for fast in (False, True):
        dropped.clear()
        _, batches = await _take(fast, mixed, 11, within=0.005)
        flat = [offset for batch in batches for _, offset in batch]
        assert flat == [0, 1, 2, 5, 6, 7, 8, 9, 10, 11, 13], fast
        assert len(dropped) == 3
        assert not any(e.message.acked or e.message.tracked for e in dropped)


async def test_an_idle_stream_waits_for_its_next_event_not_for_every_window() -> None:
    arrived: list[float] = []
    gets: list[int] = []

    async def late(app: Any, queue: Any) -> None:
        get = queue.get

        async def counting_get() -> Any:
            gets.append(1)
            return await get()

        queue.get = counting_get
        await asyncio.sleep(0.1)  # 20 windows of 5 ms with nothing
        arrived.append(asyncio.get_running_loop().time())
        await queue.put(_event(app, 0, 0))

    yielded: list[float] = []

    def stamp(app: Any, events: list[Any], before: list[list[Any]]) -> None:
        yielded.append(asyncio.get_running_loop().time())

    _, batches = await _take(True, late, 1, within=0.005, check=stamp)
    assert batches == [[(0, 0)]]
    assert len(gets) <= 2  # one wait for the event (Faust's loop wakes 20 times meanwhile)
    assert 0 <= yielded[0] - arrived[0] < 0.005 + 0.05  # within its window (and the machine's lag)


def test_the_window_end_is_the_one_fausts_loop_would_be_in() -> None:
    assert fausttake._window_end(1.0, 0.1, 0.95) == 1.0
    assert fausttake._window_end(1.0, 0.1, 1.0) == pytest.approx(1.1)
    assert fausttake._window_end(1.0, 0.1, 1.234) == pytest.approx(1.3)


async def test_a_stream_with_a_processor_or_an_unmarked_app_gets_fausts_take_events() -> None:
    app = _app(True)
    stream = app.channel().stream()
    stream.add_processor(lambda value: value)
    assert stream.take_events(10, within=0.01).ag_code is not fausttake.take_events.__code__
    plain = _app(False).channel().stream()
    assert plain.take_events(10, within=0.01).ag_code is not fausttake.take_events.__code__
    marked = app.channel().stream()
    assert marked.take_events(10, within=None).ag_code is not fausttake.take_events.__code__  # no window
    assert marked.take_events(10, within=0.01).ag_code is fausttake.take_events.__code__


async def test_a_stop_thrown_into_the_channel_ends_the_batches_after_the_batch_in_hand() -> None:
    async def then_stop(app: Any, queue: Any) -> None:
        for offset in range(3):
            await queue.put(_event(app, 0, offset))
        await asyncio.sleep(0.001)
        queue._throw(StopAsyncIteration())  # as a stopping stream's channel is

    # Faust's iterator returns on it (its drainer ends; the agent's loop then ends with the stream)
    app = _app(True)
    stream = app.channel().stream()
    await stream.maybe_start()
    feeder = asyncio.ensure_future(then_stop(app, stream.channel.queue))
    batches: list[list[int]] = []

    async def consume() -> None:
        async for events in stream.take_events(10, within=0.05):
            batches.append([e.message.offset for e in events])

    try:
        await asyncio.wait_for(consume(), 5)  # ends by itself, without an error
    finally:
        feeder.cancel()
        await stream.stop()
        app.consumer._thread.thread_loop.close()
    assert batches == [[0, 1, 2]]
