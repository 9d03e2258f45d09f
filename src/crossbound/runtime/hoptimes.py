"""Debug only: when each event went through the worker, for benchmarks/latency_hops.py. Off by default.

With ``CROSSBOUND_DEBUG_HOP_TIMES`` naming a file, each agent appends one line per event it handled
(after its batch is settled) and a lag probe appends one line per overshoot of its 5 ms sleep::

    E <topic> <partition> <offset> <yielded> <sent> <settled> <batch size>
    L <woke> <late by>

(times: ``time.time()`` seconds, the same clock as the records' ``created_at`` and ``decided_at``):
*yielded* when ``take_events`` handed over the event's batch, *sent* when the event's outputs were
handed to the producer, *settled* when every output of its batch was acknowledged. Nothing of a
record's content is written: topic, partition and offset name it. Unset (the default), nothing is
stamped or written and the agents run as before.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

__all__ = ["ENV", "HopTimes", "hop_times_from_env"]

ENV = "CROSSBOUND_DEBUG_HOP_TIMES"
PROBE_S = 0.005  # the lag probe's sleep
LATE_S = 0.001  # overshoots below this are not written


class HopTimes:
    """Appends the lines above to one file (buffered; flushed once a second by the probe)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._out: TextIO | None = None

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

    def close(self) -> None:
        """Flush and close the file (the worker leaves it to the process's exit)."""
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
                self._file().flush()


def hop_times_from_env(environ: Mapping[str, str] = os.environ) -> HopTimes | None:
    """The recorder ``CROSSBOUND_DEBUG_HOP_TIMES`` asks for, or None (unset or empty: the default)."""
    path = environ.get(ENV, "")
    return HopTimes(path) if path else None
