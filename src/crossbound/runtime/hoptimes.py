"""Debug only: when each event went through the worker, for benchmarks/latency_hops.py. Off by default.

With ``CROSSBOUND_DEBUG_HOP_TIMES`` naming a file, each agent appends one line per event it handled
(after its batch is settled), a lag probe appends one line per overshoot of its 5 ms sleep, and the
consumer's path from the broker to the agent is stamped at each of its steps::

    E <topic> <partition> <offset> <yielded> <sent> <settled> <batch size>
    L <woke> <late by>
    Q <sent> <answered> <records>
    F <topic> <partition> <first> <last> <parsed> <drained>
    G <topic> <partition> <first> <last> <got>
    P <topic> <partition> <offset> <processed>
    C <ended> <took> <generation>

(times: ``time.time()`` seconds, the same clock as the records' ``created_at`` and ``decided_at``):
*yielded* when ``take_events`` handed over the event's batch, *sent* when the event's outputs were
handed to the producer, *settled* when every output of its batch was acknowledged. The consumer's
steps (:meth:`HopTimes.install_consumer_stamps`): ``Q`` one fetch request of the consumer thread,
sent and answered (whether it brought records); ``F`` a partition's records of a fetch response,
parsed (the fetch result created) and drained by the consumer thread's ``getmany``; ``G`` the same
records received by the main loop (the thread's answer crossed over); ``P`` an event reaching its
stream's processors (the conductor and the topic's channel passed), before ``take_events`` buffers
it. ``C``: one garbage collection (``gc.callbacks``), when it ended, how long it held the
interpreter, and its generation. Nothing of a record's content is written: topic, partition and
offset name it. Unset (the default), nothing is stamped or written, nothing is patched, and the
agents run as before.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

__all__ = ["ENV", "HopTimes", "hop_times_from_env"]

ENV = "CROSSBOUND_DEBUG_HOP_TIMES"
PROBE_S = 0.005  # the lag probe's sleep
LATE_S = 0.001  # overshoots below this are not written

_patched: dict[str, Any] = {}  # the consumer classes' originals, once per process (debug only)


class HopTimes:
    """Appends the lines above to one file (buffered; flushed once a second by the probe)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._out: TextIO | None = None
        # lines from the consumer thread: deque appends are atomic, the main loop writes them out
        self._lines: deque[str] = deque()

    def _file(self) -> TextIO:
        if self._out is None:
            self._out = open(self.path, "a", encoding="ascii")  # noqa: SIM115  kept open while running
        return self._out

    def batch(self, events: Sequence[Any], yielded: float, sent: Sequence[float], settled: float) -> None:
        """One line per event of a settled batch; ``sent[i]``: when event ``i``'s outputs were sent."""
        out = self._file()
        size = len(events)
        for event, when in zip(events, sent, strict=True):
            msg = event.message
            out.write(
                f"E {msg.topic} {msg.partition} {msg.offset} {yielded:.6f} {when:.6f} {settled:.6f} {size}\n"
            )

    def processor(self, stream: Any) -> Callable[[Any], Any]:
        """A stream processor (added before ``take_events``' own) writing the ``P`` line of each event."""
        lines = self._lines

        def stamp(value: Any) -> Any:
            msg = stream.current_event.message
            lines.append(f"P {msg.topic} {msg.partition} {msg.offset} {time.time():.6f}\n")
            return value

        return stamp

    def install_consumer_stamps(self) -> None:
        """Wrap aiokafka's fetch request and fetch result, and Faust's thread-crossing ``getmany``, to
        write the ``Q``, ``F`` and ``G`` lines (once per process; only ever called with stamps on)."""
        if _patched:
            return
        from aiokafka.consumer import fetcher as aiokafka_fetcher
        from faust.transport.drivers import aiokafka as faust_aiokafka

        lines = self._lines
        wall = time.time() - time.monotonic()  # FetchResult stamps its creation with monotonic()
        result_cls: Any = aiokafka_fetcher.FetchResult
        fetcher_cls: Any = aiokafka_fetcher.Fetcher
        thread_cls: Any = faust_aiokafka.AIOKafkaConsumerThread
        getall, proc, getmany = result_cls.getall, fetcher_cls._proc_fetch_request, thread_cls.getmany
        _patched.update(getall=getall, proc=proc, getmany=getmany)

        def stamped_getall(self: Any, max_records: int | None = None) -> Any:
            records = getall(self, max_records)
            if records:
                tp = self._topic_partition
                lines.append(
                    f"F {tp.topic} {tp.partition} {records[0].offset} {records[-1].offset} "
                    f"{self._created + wall:.6f} {time.time():.6f}\n"
                )
            return records

        async def stamped_proc(self: Any, assignment: Any, node_id: Any, request: Any) -> Any:
            sent = time.time()
            got = await proc(self, assignment, node_id, request)
            lines.append(f"Q {sent:.6f} {time.time():.6f} {int(bool(got))}\n")
            return got

        async def stamped_getmany(self: Any, active_partitions: Any, timeout: float) -> Any:  # noqa: ASYNC109
            records = await getmany(self, active_partitions, timeout)
            now = time.time()
            for tp, got in records.items():
                if got:
                    lines.append(f"G {tp.topic} {tp.partition} {got[0].offset} {got[-1].offset} {now:.6f}\n")
            return records

        result_cls.getall = stamped_getall
        fetcher_cls._proc_fetch_request = stamped_proc
        thread_cls.getmany = stamped_getmany

    def install_gc_stamps(self) -> None:
        """Write a ``C`` line per garbage collection (a ``gc.callbacks`` entry; debug only)."""
        lines = self._lines
        started = [0.0]

        def collected(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                took = time.perf_counter() - started[0]
                lines.append(f"C {time.time():.6f} {took:.6f} {info['generation']}\n")

        gc.callbacks.append(collected)

    def _write_lines(self) -> None:
        out, lines = self._file(), self._lines
        while lines:
            out.write(lines.popleft())

    def close(self) -> None:
        """Flush and close the file (the worker leaves it to the process's exit)."""
        self._write_lines()
        if self._out is not None:
            self._out.close()
            self._out = None

    async def probe(self) -> None:
        """Sleep :data:`PROBE_S` over and over; write how late each wake-up was (the loop was busy)."""
        flushed = time.monotonic()
        while True:
            asked = time.monotonic()
            await asyncio.sleep(PROBE_S)
            now = time.monotonic()
            late = now - asked - PROBE_S
            if late >= LATE_S:
                self._file().write(f"L {time.time():.6f} {late:.6f}\n")
            if now - flushed >= 1.0:
                flushed = now
                self._write_lines()
                self._file().flush()


def hop_times_from_env(environ: Mapping[str, str] = os.environ) -> HopTimes | None:
    """The recorder ``CROSSBOUND_DEBUG_HOP_TIMES`` asks for, or None (unset or empty: the default)."""
    path = environ.get(ENV, "")
    return HopTimes(path) if path else None
