"""Faust's producer buffer without a settings read per message and a task per flushed message: the
``direct_buffer`` speed-up.

A table write goes to its changelog through Faust 0.15.3's ``ProducerBuffer``: ``put`` queues the
message, a task (``_handle_pending``) publishes the queue's messages in order, and the conductor
calls ``wait_until_ebb`` before it hands a record on, which, with more than ``max_messages`` (100)
queued, waits (``flush_atmost``) until that many have been published or none was for 0.1 s. Each
``put`` and each ``size`` read ``app.conf.producer_threaded`` (a settings object whose attribute
reads are tracked, about 6 µs with its descriptor under the profiler), and the flush waits for each
message with ``asyncio.wait_for``, a new task per message on Python 3.11.

The patched methods read the setting once per buffer (a buffer's producer is built for it: the
setting does not change under it) and wait for each message in ``flush_atmost`` with
``asyncio.timeout``, no task. The queue, its order, what is published, when the conductor may go on
and the flush's 0.1 s give-up are Faust's. A threaded producer (``producer_threaded``), or a buffer
of an app built without the speed-up, runs Faust's own methods.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["flush_atmost", "install", "put", "size"]

_FAST = "_crossbound_direct_buffer"
_originals: dict[str, Any] = {}


def install(buffer_cls: Any) -> None:
    """Patch ``ProducerBuffer.put``, ``size`` and ``flush_atmost`` (once per process)."""
    if "put" in _originals:
        return
    _originals["put"] = buffer_cls.put
    _originals["size"] = buffer_cls.size
    _originals["flush_atmost"] = buffer_cls.flush_atmost
    buffer_cls.put = put
    buffer_cls.size = property(size, doc=buffer_cls.size.__doc__)
    buffer_cls.flush_atmost = flush_atmost


def _fast(buffer: Any) -> bool:
    """Whether ``buffer`` takes the fast path: decided at its first use, once."""
    fast = buffer.__dict__.get(_FAST)
    if fast is None:
        from crossbound.runtime.faustloop import loop_speedups_of

        app = buffer.app
        fast = "direct_buffer" in loop_speedups_of(app) and not app.conf.producer_threaded
        buffer.__dict__[_FAST] = fast
    return bool(fast)


def put(self: Any, fut: Any) -> None:
    """Faust 0.15.3's ``ProducerBuffer.put`` (same signature)."""
    if _fast(self):
        self.pending.put_nowait(fut)
    else:
        _originals["put"](self, fut)


def size(self: Any) -> int:
    """Faust 0.15.3's ``ProducerBuffer.size``: the messages waiting to be published."""
    if _fast(self):
        return int(self.pending.qsize())
    return int(_originals["size"].fget(self))


async def flush_atmost(self: Any, max_messages: int | None) -> int:
    """Faust 0.15.3's ``ProducerBuffer.flush_atmost`` (same signature and result)."""
    if not _fast(self):
        return int(await _originals["flush_atmost"](self, max_messages))
    flushed_messages = 0
    queued = self.pending.qsize
    message_sent = self.message_sent
    while True:
        if self.state != "running" and queued():
            raise RuntimeError("Cannot flush: Producer not Running")
        if queued() != 0 and (max_messages is None or flushed_messages < max_messages):
            message_sent.clear()
            try:
                async with asyncio.timeout(0.1):
                    await message_sent.wait()
                flushed_messages += 1
            except TimeoutError:
                return flushed_messages
        else:
            return flushed_messages
