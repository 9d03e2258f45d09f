"""Pipelined settles: an agent takes its next batch while the previous batches' outputs are awaited.

Before this, an agent awaited every output of a batch (:meth:`~crossbound.runtime.sending.Sender.settle`,
one produce round trip: the linger plus the broker's ``acks=all`` answer) before it took the next
batch, and Faust's ``take_events`` buffer stayed closed meanwhile: a record that arrived during the
settle waited for it in the stream (benchmarks/latency_hops.py at 50/s, one run: of the records held
over 5 ms between the main loop and the stream, 2,021 of 2,182 had arrived while their agent was in
a batch).

:class:`Settling` lets the agent go on. Each batch's sends (its sender's
:meth:`~crossbound.runtime.sending.Sender.detach`) are settled by a task of their own, in the order
of the batches; only then are the batch's events acknowledged, so at-least-once holds as before: an
event's offset may be committed only once every output of its batch, or the dead letter that
replaced a refused one, is written.

How: each event's message gets one more reference (Faust's ``Message.incref``, the count by which
several streams share a message) when its batch is handed over; ``take_events``' own acknowledgement,
when the agent asks for the next batch, then only drops that count to one, and the settle's
``event.ack()`` is the final one that marks the offset committable (Faust commits the acknowledged
offsets of a partition up to the first gap, whatever the order of the acknowledgements).

At most ``ahead`` batches are being settled while the agent works: the next hand-over waits for the
oldest. A settle's error (the producer failed: ``on_fatal`` has stopped the worker already) is raised
in the agent at its next hand-over or at :meth:`Settling.drain`; the batches after a failed one are
not acknowledged. What was not acknowledged when the worker stops is consumed again by the next
worker (answered idempotently), as a batch stopped in its settle was before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from crossbound.runtime.sending import Sender

__all__ = ["Settling"]


class Settling:
    """The settles of one agent's batches, in order, up to ``ahead`` of the agent (``ahead >= 1``)."""

    def __init__(self, ahead: int) -> None:
        if ahead < 1:
            raise ValueError(f"ahead must be at least 1, got {ahead}")
        self.ahead = ahead
        self._tasks: deque[asyncio.Task[None]] = deque()

    def __len__(self) -> int:
        """Batches handed over and not yet known to be settled."""
        return len(self._tasks)

    async def add(
        self, batch: Sender, events: Sequence[Any], settled: Callable[[], None] | None = None
    ) -> None:
        """Settle ``batch`` (the sends of ``events``) after the batches before it, then acknowledge
        ``events`` and call ``settled``; returns once at most ``ahead`` batches are left settling."""
        self._raise_finished()
        for event in events:
            event.message.incref()  # held until the settle; take_events' own ack leaves the offset open
        previous = self._tasks[-1] if self._tasks else None
        self._tasks.append(asyncio.ensure_future(self._settle(previous, batch, events, settled)))
        while len(self._tasks) > self.ahead:
            await self._tasks.popleft()

    async def drain(self) -> None:
        """Wait for every batch handed over (a settle's error is raised here)."""
        while self._tasks:
            await self._tasks.popleft()

    def cancel(self) -> None:
        """Stop waiting (the agent stops): what was not settled stays unacknowledged."""
        while self._tasks:
            self._tasks.popleft().cancel()

    def _raise_finished(self) -> None:
        while self._tasks and self._tasks[0].done():
            self._tasks.popleft().result()

    @staticmethod
    async def _settle(
        previous: asyncio.Task[None] | None,
        batch: Sender,
        events: Sequence[Any],
        settled: Callable[[], None] | None,
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
            if previous.cancelled() or previous.exception() is not None:
                return  # the earlier batch's error stops the agent; nothing after it is acknowledged
        await batch.settle()
        for event in events:
            event.ack()  # the last reference: the offset may be committed
        if settled is not None:
            settled()
