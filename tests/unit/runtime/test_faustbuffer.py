"""Faust's producer buffer with the ``direct_buffer`` speed-up (crossbound.runtime.faustbuffer), no broker.

A real ``ProducerBuffer`` of an app built with the speed-up and one without, fed the same messages
(stand-ins that record their publishing): the same messages published in the same order, the same
sizes, the same flush results (at most ``max_messages``; a give-up after 0.1 s without progress; a
buffer not running refusing to flush), and a flush begun in one task and resumed in another (as
``direct_delivery`` resumes a delivery that had to wait) still gives up after 0.1 s.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import faust
import pytest

from crossbound.runtime import faustbuffer, faustloop
from crossbound.runtime.faustloop import install_loop_speedups

_apps = iter(range(10**6))


class Published:
    """What the stand-in messages' channel published, in order; ``gate`` holds each publishing."""

    def __init__(self) -> None:
        self.order: list[int] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await self.gate.wait()
        await asyncio.sleep(0)  # a send takes a trip through the loop
        self.order.append(fut.n)


def _buffer(fast: bool) -> Any:
    app = faust.App(f"cbbuf{next(_apps)}", broker="kafka://127.0.0.1:1", autodiscover=False)
    install_loop_speedups(app, ("direct_buffer",) if fast else ())
    return app.producer.buffer


def _message(channel: Published, n: int) -> Any:
    return SimpleNamespace(n=n, message=SimpleNamespace(channel=channel))


@pytest.fixture
def wait_fors(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the ``asyncio.wait_for`` calls of Faust's producer module (a task each on 3.11)."""
    from faust.transport import producer

    calls: list[int] = []
    real = asyncio.wait_for

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(producer.asyncio, "wait_for", counted)
    return calls


async def _unstarted_refuses(fast: bool, channel: Published) -> None:
    """A buffer never started, with a message queued, refuses to flush."""
    idle = _buffer(fast)
    idle.put(_message(channel, 3))
    with pytest.raises(RuntimeError, match="Cannot flush: Producer not Running"):
        await idle.flush_atmost(1)


@pytest.mark.parametrize("fast", [False, True])
async def test_the_same_messages_in_the_same_order_and_a_flush_of_at_most_max(
    fast: bool, wait_fors: list[int]
) -> None:
    buffer = _buffer(fast)
    channel = Published()
    for n in range(250):
        buffer.put(_message(channel, n))
    assert buffer.size == 250
    await buffer.start()
    try:
        await buffer.wait_until_ebb()  # over max_messages (100): waits for 100 to be published
        assert len(channel.order) >= 100
        assert buffer.size <= 250 - len(channel.order)  # one may be on its way
        await buffer.flush()  # returns with the queue empty: the last one may still be on its way
        await asyncio.sleep(0.01)
        assert channel.order == list(range(250))
        assert buffer.size == 0
    finally:
        await buffer.stop()
    await _unstarted_refuses(fast, channel)
    assert faustbuffer._fast(buffer) is fast
    assert wait_fors  # Faust's flush in both: a wait_for per message it waits for


@pytest.mark.parametrize("fast", [False, True])
async def test_a_flush_gives_up_without_progress_and_a_stopped_buffer_refuses(fast: bool) -> None:
    buffer = _buffer(fast)
    channel = Published()
    channel.gate.clear()  # the first publishing never completes
    await buffer.start()
    try:
        for n in range(3):
            buffer.put(_message(channel, n))
        loop = asyncio.get_running_loop()
        began = loop.time()
        assert await buffer.flush_atmost(10) == 0
        assert 0.09 <= loop.time() - began < 1.0
        channel.gate.set()
        await buffer.flush()
        await asyncio.sleep(0.01)
        assert channel.order == [0, 1, 2]
    finally:
        await buffer.stop()
    await _unstarted_refuses(fast, channel)


@pytest.mark.parametrize("fast", [False, True])
async def test_an_ebb_wait_resumed_in_another_task_gives_up_after_a_tenth(fast: bool) -> None:
    buffer = _buffer(fast)
    channel = Published()
    channel.gate.clear()  # nothing is ever published
    await buffer.start()
    try:
        for n in range(buffer.max_messages + 5):
            buffer.put(_message(channel, n))
        coro = buffer.wait_until_ebb()
        first = coro.send(None)  # begun in this task, as direct_delivery runs a delivery's first step
        resumed = asyncio.ensure_future(faustloop._finish(coro, first))  # and raced in another
        await asyncio.wait_for(resumed, 2)  # Faust's flush gives up after 0.1 s without progress
        assert not asyncio.current_task().cancelling()  # type: ignore[union-attr]  # this task untouched
    finally:
        buffer.pending._queue.clear()  # a buffer stopping with messages queued refuses to flush
        channel.gate.set()
        await buffer.stop()
