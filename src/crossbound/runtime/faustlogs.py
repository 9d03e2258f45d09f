"""Faust's log lines that come per batch under load, kept to one a minute.

Faust's producer buffer (the tables' changelog writes) logs a WARNING ``producer buffer full size N``
and an INFO ``producer flush took S`` each time the conductor waits for it to drain below its 100
messages, which larger batches make frequent under a backlog: per-batch logging on the worker's
WARNING level. :class:`Throttle` lets the first such line through, then at most one a
``every_s`` seconds, saying how many were held back since the last; every other record passes.
:func:`install_log_throttle` puts it on Faust's producer logger (the worker's app does, once).
The lines hold a count and a duration only, no record data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["PRODUCER_LOGGER", "Throttle", "install_log_throttle"]

PRODUCER_LOGGER = "faust.transport.producer"
_REPEATED = ("producer buffer full", "producer flush took")


class Throttle(logging.Filter):
    """Passes a record whose message starts with one of ``prefixes`` at most once every ``every_s``
    seconds (per prefix), with the number held back since appended; everything else passes."""

    def __init__(
        self,
        prefixes: tuple[str, ...] = _REPEATED,
        every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__("crossbound.faustlogs")
        self.prefixes = prefixes
        self.every_s = every_s
        self.clock = clock
        self._last: dict[str, float] = {}
        self.held: dict[str, int] = dict.fromkeys(prefixes, 0)

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a repeat within the interval; the record that passes names the repeats held."""
        text = str(record.msg)
        prefix = next((p for p in self.prefixes if text.startswith(p)), None)
        if prefix is None:
            return True
        now = self.clock()
        last = self._last.get(prefix)
        if last is not None and now - last < self.every_s:
            self.held[prefix] += 1
            return False
        self._last[prefix] = now
        held, self.held[prefix] = self.held[prefix], 0
        if held and last is not None:  # held only once a line passed
            record.msg = f"{record.getMessage()} ({held} more like it in the last {now - last:.0f} s)"
            record.args = None
        return True


def install_log_throttle(every_s: float = 60.0) -> Throttle:
    """Put one :class:`Throttle` on Faust's producer logger (again: the one already there)."""
    logger = logging.getLogger(PRODUCER_LOGGER)
    for existing in logger.filters:
        if isinstance(existing, Throttle):
            return existing
    throttle = Throttle(every_s=every_s)
    logger.addFilter(throttle)
    return throttle
