"""Faust's producer buffer without a settings read per message: the ``direct_buffer`` speed-up.

A table write goes to its changelog through Faust 0.15.3's ``ProducerBuffer``: ``put`` queues the
message, a task (``_handle_pending``) publishes the queue's messages in order, and the conductor
calls ``wait_until_ebb`` before it hands a record on, which, with more than ``max_messages`` (100)
queued, waits (``flush_atmost``) until that many have been published or none was for 0.1 s. Each
``put`` and each ``size`` read ``app.conf.producer_threaded`` (a settings object whose attribute
reads are tracked, about 6 µs with its descriptor under the profiler).

The patched ``put`` and ``size`` read the setting once per buffer (a buffer's producer is built for
it: the setting does not change under it). The queue, its order, what is published and when the
conductor may go on are Faust's. A threaded producer (``producer_threaded``), or a buffer of an app
built without the speed-up, runs Faust's own methods.

``flush_atmost`` is left as Faust wrote it, a ``wait_for`` (a task on Python 3.11) per message it
waits for. A version with ``asyncio.timeout`` (no task) stalled a worker: ``asyncio.timeout`` cancels
the task that entered it, and ``direct_delivery`` resumes a delivery that had to wait in another
task than the one it began in, so the timeout cancelled the fetcher's task instead of the wait.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install", "put", "size"]

_FAST = "_crossbound_direct_buffer"
_originals: dict[str, Any] = {}


def install(buffer_cls: Any) -> None:
    """Patch ``ProducerBuffer.put`` and ``size`` (once per process)."""
    if "put" in _originals:
        return
    _originals["put"] = buffer_cls.put
    _originals["size"] = buffer_cls.size
    buffer_cls.put = put
    buffer_cls.size = property(size, doc=buffer_cls.size.__doc__)


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
