"""Faust's per-batch producer-buffer lines are kept to one an interval; other records pass."""

from __future__ import annotations

import logging

from crossbound.runtime.faustlogs import PRODUCER_LOGGER, Throttle, install_log_throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord(PRODUCER_LOGGER, level, __file__, 1, msg, None, None)


def test_the_first_line_passes_repeats_are_held_and_counted_in_the_next_that_passes() -> None:
    clock = Clock()
    throttle = Throttle(every_s=60.0, clock=clock)
    assert throttle.filter(record("producer buffer full size 101"))
    clock.now += 1
    assert not throttle.filter(record("producer buffer full size 140"))
    assert not throttle.filter(record("producer buffer full size 120"))
    clock.now += 60
    passed = record("producer buffer full size 105")
    assert throttle.filter(passed)
    assert passed.getMessage() == "producer buffer full size 105 (2 more like it in the last 61 s)"
    clock.now += 61
    quiet = record("producer buffer full size 102")
    assert throttle.filter(quiet)
    assert quiet.getMessage() == "producer buffer full size 102"  # nothing held back since


def test_each_kind_of_line_has_its_own_interval_and_other_records_always_pass() -> None:
    throttle = Throttle(every_s=60.0, clock=Clock())
    assert throttle.filter(record("producer buffer full size 101"))
    assert throttle.filter(record("producer flush took 0.01", logging.INFO))
    assert not throttle.filter(record("producer flush took 0.02", logging.INFO))
    for _ in range(3):
        assert throttle.filter(record("Producer failed: broker gone", logging.ERROR))


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_installed_once_on_fausts_producer_logger() -> None:
    logger = logging.getLogger(PRODUCER_LOGGER)
    kept, level, disabled = Kept(), logger.level, logger.disabled
    logger.addHandler(kept)
    logger.setLevel(logging.WARNING)
    logger.disabled = False  # another test's logging set-up may have disabled the existing loggers
    earlier = [f for f in logger.filters if isinstance(f, Throttle)]  # other tests' apps installed one
    for f in earlier:
        logger.removeFilter(f)
    try:
        first = install_log_throttle()
        assert install_log_throttle() is first
        assert sum(isinstance(f, Throttle) for f in logger.filters) == 1
        for size in range(101, 111):
            logger.warning(f"producer buffer full size {size}")
        assert kept.messages == ["producer buffer full size 101"]
    finally:
        logger.removeHandler(kept)
        logger.setLevel(level)
        logger.disabled = disabled
        for f in list(logger.filters):
            if isinstance(f, Throttle):
                logger.removeFilter(f)
        for f in earlier:
            logger.addFilter(f)
