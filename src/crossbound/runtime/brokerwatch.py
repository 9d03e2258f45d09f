"""Watch the broker from inside a running worker and stop the worker when the broker lost its state.

A look (:class:`~crossbound.broker.admin.BrokerProbe`: two Metadata requests and one ListOffsets) runs
every ``kafka.reset_check_interval_s`` seconds (default 5), and at once when aiokafka logs one of the
errors a reset causes (:class:`ResetHints`: an unknown topic or partition, a fetch offset out of
range); nothing runs per message. What counts as evidence is :class:`~crossbound.runtime.resets.
ResetDetector`'s. Evidence is confirmed by a second look ``confirm_s`` later (a reset stays visible:
its log ends stay behind; a transient metadata answer does not), then ``on_reset`` is called once and
the watch ends. A look the broker cannot answer (down, restarting, electing leaders) proves nothing and
is skipped.

The worker's ``on_reset`` (:func:`crossbound.runtime.worker.run_worker`) marks it not ready with the
reason, counts ``crossbound_broker_reset_total{what}``, logs one ERROR line and exits with
:data:`EXIT_BROKER_RESET` at once, without Faust's graceful stop: that stop would commit offsets and
flush outputs of the old log into the empty one (an offset committed there would make the restarted
worker skip the first records of the new log). The orchestrator restarts the worker, which creates its
topics anew and starts from what the broker has now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka.errors import KafkaError

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.broker.state import BrokerProbe, BrokerState
from crossbound.runtime.resets import BrokerReset, ResetDetector

__all__ = ["EXIT_BROKER_RESET", "BrokerWatch", "ResetHints", "watch_broker"]

log = logging.getLogger(__name__)

EXIT_BROKER_RESET = 75
"""The worker's exit code when its broker lost its state (``EX_TEMPFAIL``: restart and try again)."""

Look = Callable[[], Awaitable[BrokerState]]


class BrokerWatch:
    """Look at the broker periodically and on hints; call ``on_reset`` once a reset is confirmed.

    Args:
        look: reads the broker's state; may raise ``KafkaError``, ``OSError`` or ``TimeoutError``
            (the look is skipped).
        detector: the baseline and the comparison.
        on_reset: called once, with the confirmed evidence.
        interval_s: seconds between looks.
        confirm_s: seconds before the confirming look; also the least time between two looks, however
            many hints arrive.
    """

    def __init__(
        self,
        look: Look,
        detector: ResetDetector,
        on_reset: Callable[[BrokerReset], None],
        *,
        interval_s: float,
        confirm_s: float = 1.0,
    ) -> None:
        self._look = look
        self._detector = detector
        self._on_reset = on_reset
        self._interval_s = interval_s
        self._confirm_s = confirm_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hint = asyncio.Event()
        self._last = float("-inf")

    def hint(self) -> None:
        """Look soon: something suggests a reset. Safe from any thread (aiokafka runs Faust's consumer
        in a thread of its own)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._hint.set)

    async def run(self) -> BrokerReset:
        """Watch until a reset is confirmed; returns it after ``on_reset``."""
        self._loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hint.wait(), self._interval_s)
            self._hint.clear()
            reset = await self.look_once()
            if reset is not None:
                self._on_reset(reset)
                return reset

    async def look_once(self) -> BrokerReset | None:
        """One look, and the confirming one when it finds evidence; the confirmed evidence or ``None``."""
        first = await self._checked()
        if first is None:
            return None
        second = await self._checked()
        if second is None:
            log.warning("the broker looked reset once, not on a second look: %s", first.detail)
        return second

    async def _checked(self) -> BrokerReset | None:
        await asyncio.sleep(max(0.0, self._last + self._confirm_s - time.monotonic()))
        self._last = time.monotonic()
        try:
            state = await self._look()
        except (KafkaError, OSError, TimeoutError) as exc:
            log.debug("broker look skipped: %r", exc)
            return None
        return self._detector.check(state)


class ResetHints(logging.Filter):
    """A filter on aiokafka's loggers that turns the errors of a reset into :meth:`BrokerWatch.hint`.

    It compares the record's message template (no formatting, no record data) with the few aiokafka
    logs on an unknown topic or an out-of-range fetch, and lets every record through except the
    out-of-range one at INFO, which :meth:`install` makes the fetcher log only for this filter.
    """

    LOGGERS = ("aiokafka.cluster", "aiokafka.consumer.fetcher", "aiokafka.consumer.group_coordinator")
    _MARKS = ("out of range", "not found in cluster metadata", "unknown topic", "UnknownTopicOrPartition")

    def __init__(self, hint: Callable[[], None]) -> None:
        super().__init__("crossbound.brokerwatch")
        self._hint = hint

    def filter(self, record: logging.LogRecord) -> bool:
        """Hint on a matching record; drop the fetcher's INFO line, keep everything else."""
        text = str(record.msg)
        if any(mark in text for mark in self._MARKS) or any(
            "UnknownTopicOrPartition" in type(arg).__name__ for arg in record.args or ()
        ):
            self._hint()
        return record.levelno >= logging.WARNING or record.name != "aiokafka.consumer.fetcher"

    def install(self) -> Callable[[], None]:
        """Attach to aiokafka's loggers (the fetcher's at INFO at most); returns the undo."""
        fetcher = logging.getLogger("aiokafka.consumer.fetcher")
        level = fetcher.level
        if fetcher.getEffectiveLevel() > logging.INFO:
            fetcher.setLevel(logging.INFO)
        for name in self.LOGGERS:
            logging.getLogger(name).addFilter(self)

        def undo() -> None:
            for name in self.LOGGERS:
                logging.getLogger(name).removeFilter(self)
            fetcher.setLevel(level)

        return undo


async def watch_broker(
    bootstrap: str,
    detector: ResetDetector,
    on_reset: Callable[[BrokerReset], None],
    *,
    interval_s: float,
    security: ClientSecurity = PLAINTEXT,
) -> BrokerReset:
    """Run a :class:`BrokerWatch` over a :class:`BrokerProbe` of ``bootstrap``, with :class:`ResetHints`
    on aiokafka's loggers, until a reset is confirmed (the probe retried while the broker is away)."""
    probe = BrokerProbe(bootstrap, security=security)
    while True:
        try:
            await probe.__aenter__()
            break
        except (KafkaError, OSError, TimeoutError) as exc:
            log.debug("broker probe not started: %r", exc)
            await asyncio.sleep(interval_s)
    watch = BrokerWatch(lambda: probe.state(detector.watched), detector, on_reset, interval_s=interval_s)
    undo = ResetHints(watch.hint).install()
    try:
        return await watch.run()
    finally:
        undo()
        await probe.close()
