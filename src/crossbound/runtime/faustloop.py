"""Faust's consumer loop without a race per record: the ``direct_delivery`` speed-up (and the
installation of ``direct_take``, :mod:`crossbound.runtime.fausttake`, and ``direct_buffer``,
:mod:`crossbound.runtime.faustbuffer`).

Faust 0.15.3's ``Consumer._drain_messages`` hands every record to the conductor with
``await self.wait_first(callback(message), self.suspend_flow.wait())``: four tasks (the callback, the
suspension, the consumer's stopped and crashed events) and an ``asyncio.wait`` per record, so that a
rebalance (which sets ``suspend_flow``) abandons a delivery blocked on a full stream buffer. Most
deliveries never block: the conductor's ``on_message`` puts the event into a queue with room and
returns without waiting.

:func:`drain_messages` is the same loop, which runs the callback's first step in place: a delivery
that completes without waiting costs no task at all; one that waits (a full buffer, a flow-control
pause, a producer ebb) is then raced against the suspension exactly as Faust does, resumed from where
it stopped (:func:`_resume`). What is delivered, in what order, and which read offsets are set is
unchanged: Faust's race too runs a callback that does not wait to its end, suspended flow or not
(``wait_first`` returns when any of its tasks is done, and a callback that completes in its first step
is done with the suspension's). The at-least-once fixes of :mod:`crossbound.runtime.faustfix`
(``getmany``'s rewind of what it did not hand over) are below this loop and apply unchanged.

:func:`install_loop_speedups` patches ``Consumer._drain_messages`` (and ``Stream.take_events`` and
``ProducerBuffer``'s ``put``, ``size`` and ``flush_atmost`` for the other two) once per process,
version-guarded (a log line, and no patch, on another faust-streaming than the one this was written
against); the patched methods take the fast path only for a consumer (a stream, a buffer) of an app
marked at its construction, so an app built with ``kafka.faust_stock`` naming the speed-up runs
Faust's own code. No import-time side effect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Coroutine, Generator
from typing import Any, cast

from crossbound.runtime import faustbuffer
from crossbound.runtime.fausttake import direct_take_eligible
from crossbound.runtime.fausttake import take_events as direct_take

__all__ = ["LOOP_SPEEDUPS", "drain_messages", "install_loop_speedups", "loop_speedups_of", "take_events"]

log = logging.getLogger(__name__)

#: The faust-streaming release whose consumer loop :func:`drain_messages` reproduces.
FAUST_VERSION = "0.15.3"

#: The speed-ups of Faust's consumer loop, by the name ``kafka.faust_stock`` takes.
LOOP_SPEEDUPS: tuple[str, ...] = ("direct_delivery", "direct_take", "direct_buffer")

_APP_FLAG = "_crossbound_loop_speedups"
_originals: dict[str, Any] = {}


def loop_speedups_of(app: Any) -> frozenset[str]:
    """The loop speed-ups ``app`` was built with."""
    return cast(frozenset[str], getattr(app, _APP_FLAG, frozenset()))


def install_loop_speedups(app: Any, names: Collection[str]) -> frozenset[str]:
    """Mark ``app`` for the loop speed-ups ``names`` (of :data:`LOOP_SPEEDUPS`) and patch Faust's
    consumer once per process; returns the speed-ups in effect (none on another faust-streaming)."""
    chosen = frozenset(names) & frozenset(LOOP_SPEEDUPS)
    if not chosen:
        setattr(app, _APP_FLAG, frozenset())
        return frozenset()
    import faust
    from faust.transport import consumer as faust_consumer

    if faust.__version__ != FAUST_VERSION:
        log.warning(
            "faust-streaming %s is not %s, which the consumer loop speed-ups (%s) were written "
            "against: Faust's own loop is kept",
            faust.__version__,
            FAUST_VERSION,
            ", ".join(sorted(chosen)),
        )
        setattr(app, _APP_FLAG, frozenset())
        return frozenset()
    from faust import streams as faust_streams

    consumer_cls: Any = faust_consumer.Consumer
    if "_drain_messages" not in _originals:
        _originals["_drain_messages"] = consumer_cls._drain_messages
        consumer_cls._drain_messages = drain_messages
    stream_cls: Any = faust_streams.Stream
    if "take_events" not in _originals:
        _originals["take_events"] = stream_cls.take_events
        stream_cls.take_events = take_events
    from faust.transport import producer as faust_producer

    faustbuffer.install(faust_producer.ProducerBuffer)
    setattr(app, _APP_FLAG, chosen)
    return chosen


def take_events(self: Any, max_: int, within: Any) -> AsyncGenerator[Any, None]:
    """Faust 0.15.3's ``Stream.take_events`` (same signature): the ``direct_take`` generator
    (:mod:`crossbound.runtime.fausttake`) for a stream it can stand in on, Faust's otherwise."""
    if "direct_take" in loop_speedups_of(self.app) and direct_take_eligible(self, within):
        agen = direct_take(self, max_, within)
        self._active_agens.add(agen)  # closed by Stream.on_stop, as Faust's take generators are
        return agen
    return cast(AsyncGenerator[Any, None], _originals["take_events"](self, max_, within))


async def drain_messages(self: Any, fetcher: Any) -> None:
    """Faust 0.15.3's ``Consumer._drain_messages`` (same signature), without a race per record."""
    if "direct_delivery" not in loop_speedups_of(self.app):
        await _originals["_drain_messages"](self, fetcher)
        return
    from faust.transport.consumer import CONSUMER_FETCHING

    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            ait = cast(AsyncIterator[tuple[Any, Any]], getmany(timeout=1.0))
            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        if gap > 1 and r_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await deliver(self, callback, message)
                        set_read_offset(tp, offset)
                    else:
                        self.log.dev("DROPPED MESSAGE ROFF %r", offset)  # no key or value in logs
                unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(CONSUMER_FETCHING)


async def deliver(consumer: Any, callback: Callable[[Any], Coroutine[Any, Any, Any]], message: Any) -> None:
    """``callback(message)``: its first step in place; raced against the flow's suspension (as Faust
    races it from the start) only if it has to wait."""
    coro = callback(message)
    try:
        first = coro.send(None)
    except StopIteration:
        return  # delivered without waiting
    except BaseException:
        coro.close()
        raise
    await consumer.wait_first(_finish(coro, first), consumer.suspend_flow.wait())


async def _finish(coro: Coroutine[Any, Any, Any], first: Any) -> Any:
    """Run ``coro`` on from its first suspension, ``first`` (what it yielded), in the awaiting task."""
    return await _Resumed(coro, first)


class _Resumed:
    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro, self._first = coro, first

    def __await__(self) -> Generator[Any, Any, Any]:
        return _resume(self._coro, self._first)


def _resume(coro: Coroutine[Any, Any, Any], first: Any) -> Generator[Any, Any, Any]:
    """Hand ``first`` (the future ``coro`` waits on) to the running task, then drive ``coro`` on:
    what the task sends or throws (a cancellation) goes into ``coro``, as an ``await`` would."""
    pending = first
    while True:
        try:
            sent = yield pending
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # noqa: BLE001  a cancellation (or any throw) goes into coro
            try:
                pending = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            pending = coro.send(sent)
        except StopIteration as stop:
            return stop.value
