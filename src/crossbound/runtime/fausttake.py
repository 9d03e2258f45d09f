"""Faust's ``Stream.take_events`` without a drainer task: the ``direct_take`` speed-up.

Faust 0.15.3's ``take_events`` adds a processor to the stream and iterates it in a second task (the
"passive drainer"), which takes each event off the channel's queue after an ``asyncio.sleep(0)`` (a
trip through the event loop per event), tracks it for acking, calls the stream sensors, runs the
processor (a coroutine per event) that appends it to the buffer, and hands over to the agent's task;
that task waits for each batch with ``Service.wait_for_stopped`` (``wait_first``: tasks and an
``asyncio.wait``), even when the stream is idle: it wakes every ``within`` seconds to find nothing.

:func:`take_events` is the same generator in the agent's own task: it takes what the queue holds
(``get_nowait``), waits for more on the queue itself until the batch window ends (one timer per
batch, no task), and, while the stream is idle, waits for the next event instead of waking every
window (then yields at the end of the window Faust's loop would have been in). Per event it does
what Faust's stream iterator does for ``take_events`` (the compiled ``_CStreamIterator`` that
faust-streaming runs; ``faust/_cython/streams.pyx``): an event taken while the flow is suspended or
of another consumer generation is dropped unacked (a rebalance seeks back to the committed offset);
one of an acking topic is tracked (``Consumer._unacked_messages``) when it is taken; the sensors'
``on_message_in`` and ``on_stream_event_in`` are called; and the events of a batch are acked, with
``on_stream_event_out`` and ``on_message_out``, when the agent asks for the next batch (or leaves
the loop), as ``Stream.ack`` does. Batches hold at most ``max_`` events, in queue order; the
queue's own ``get``/``get_nowait`` run, so its flow control and pressure callbacks are unchanged. A
``StopAsyncIteration`` thrown into the channel (a stopping stream) ends the generator after the batch
in hand, as it ends Faust's stream iterator.

It is used for a stream whose app was built with the speed-up (:mod:`crossbound.runtime.faustloop`
installs it), with a timeout, a channel it iterates, and nothing else on it (no other processor,
join or take): any other stream gets Faust's own ``take_events``. What it does not do: set the
current-event context variable, which Faust sets in the drainer's task, where only the processor
reads it (the agent's task never sees it either way).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, Callable
from typing import Any

__all__ = ["IDLE_POLL_S", "direct_take_eligible", "take_events"]

#: How long an idle stream waits for its next event before it checks whether it should stop.
IDLE_POLL_S = 1.0


def direct_take_eligible(stream: Any, within: Any) -> bool:
    """Whether :func:`take_events` can stand in for Faust's on ``stream``."""
    from faust.streams import Stream
    from faust.types import ChannelT

    channel = stream.channel
    return (
        bool(within)
        and not stream._processors
        and stream.join_strategy is None
        and not stream._passive
        and type(stream).ack is Stream.ack
        and isinstance(channel, ChannelT)
        and bool(getattr(channel, "is_iterator", False))
    )


async def take_events(stream: Any, max_: int, within: Any) -> AsyncGenerator[list[Any], None]:
    """Faust 0.15.3's ``Stream.take_events(max_, within)``, in the agent's task (see the module)."""
    from faust.types import EventT
    from mode.utils.times import want_seconds

    window = want_seconds(within)
    app = stream.app
    loop = asyncio.get_running_loop()
    now = loop.time
    channel = stream.channel
    queue = channel.queue
    empty, get, get_nowait = queue.empty, queue.get, queue.get_nowait
    flow_active = app.flow_control.is_active
    acking_topics = app.topics._acking_topics
    add_unacked = app.consumer._unacked_messages.add
    on_message_in = stream._on_message_in
    on_event_in = stream._on_stream_event_in

    def accept(item: Any, events: list[Any]) -> None:
        """``item`` (off the queue) into ``events``, as Faust's stream iterator takes it."""
        if not isinstance(item, EventT):
            raise _NotAnEvent("Take buffer found current_event is None")  # Faust's processor's error
        message = item.message
        if not flow_active() or message.generation_id != app.consumer_generation_id:
            return  # dropped, as the iterator skips it (no ack: the rebalance seeks back)
        tp, offset = message.tp, message.offset
        if message.topic in acking_topics and not message.tracked:
            message.tracked = True
            add_unacked(message)
            on_message_in(tp, offset, message)
        on_event_in(tp, offset, stream, item)
        stream.events_total += 1
        events.append(item)

    stream_enable_acks = stream.enable_acks
    stream.enable_acks = False  # as Faust's: the events are acked here, after the agent's batch
    stream._finalized = True
    started_here = await stream.maybe_start()
    ended = False
    try:
        while not (ended or stream.should_stop):
            events: list[Any] = []
            deadline = now() + window  # Faust's wait for the batch starts here
            try:
                while len(events) < max_:
                    if not empty():
                        accept(get_nowait(), events)
                        continue
                    if events:  # wait for more until the window ends
                        if now() >= deadline:
                            break
                        try:
                            async with asyncio.timeout_at(deadline):
                                item = await get()
                        except TimeoutError:
                            break
                    else:  # idle: wait for the next event, not for each window
                        try:
                            async with asyncio.timeout(IDLE_POLL_S):
                                item = await get()
                        except TimeoutError:
                            if stream.should_stop:
                                break
                            continue
                        deadline = _window_end(deadline, window, now())
                    accept(item, events)
            except _NotAnEvent as exc:  # as Faust's processor: logged, the stream crashed
                stream.log.exception("Error adding to take buffer: %r", exc)
                await stream.crash(exc)
            except StopAsyncIteration:  # thrown into the channel: its iteration ends (as Faust's
                ended = True  # iterator's does), after the batch in hand
            if events:
                try:
                    yield events
                finally:
                    _ack_all(stream, events)
    finally:
        stream.enable_acks = stream_enable_acks
        stream._channel_stop_iteration(channel)
        if started_here:
            await stream.stop()
            stream.service_reset()


class _NotAnEvent(RuntimeError):
    """A channel value that is not an event (``take_events`` buffers events)."""


def _window_end(deadline: float, window: float, arrived: float) -> float:
    """The end of the window that Faust's loop, waking every ``window`` from ``deadline - window``
    and finding nothing until then, would be in when an event arrives at ``arrived``."""
    if arrived < deadline:
        return deadline
    return deadline + (math.floor((arrived - deadline) / window) + 1) * window


def _ack_all(stream: Any, events: list[Any]) -> None:
    """``Stream.ack`` of each of ``events``, in order (its body: it awaits nothing)."""
    on_event_out: Callable[..., Any] = stream._on_stream_event_out
    on_message_out: Callable[..., Any] = stream._on_message_out
    for event in events:
        last_stream_to_ack = event.ack()
        message = event.message
        tp, offset = message.tp, message.offset
        on_event_out(tp, offset, stream, event)
        if last_stream_to_ack:
            on_message_out(tp, offset, message)
