"""BrokerWatch's loop and ResetHints over fakes: when it looks, what it confirms, what it skips."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from aiokafka.errors import KafkaConnectionError

from crossbound.broker.state import BrokerState
from crossbound.runtime.brokerwatch import BrokerWatch, ResetHints
from crossbound.runtime.resets import BrokerReset, ResetDetector

TOPICS = ("hk.requests",)
ALL = frozenset(TOPICS)


def _state(end: int, topics: frozenset[str] = ALL) -> BrokerState:
    return BrokerState("c1", topics, {("hk.requests", 0): end} if topics else {})


class FakeBroker:
    """Answers the watch's looks from a script of states (an exception: the broker cannot say)."""

    def __init__(self, *answers: BrokerState | Exception) -> None:
        self.answers = list(answers)
        self.looks = 0

    async def look(self) -> BrokerState:
        self.looks += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _watch(broker: FakeBroker, found: list[BrokerReset], interval_s: float = 0.01) -> BrokerWatch:
    return BrokerWatch(
        broker.look, ResetDetector(TOPICS, ()), found.append, interval_s=interval_s, confirm_s=0.0
    )


async def test_a_reset_is_reported_once_after_a_confirming_look() -> None:
    broker = FakeBroker(_state(10), _state(12), _state(0), _state(0))
    found: list[BrokerReset] = []
    reset = await asyncio.wait_for(_watch(broker, found).run(), 5)
    assert found == [reset]
    assert reset.what == ("offsets",)
    assert broker.looks == 4  # two clean looks, the evidence, the confirmation


async def test_evidence_not_seen_again_is_not_a_reset(caplog: pytest.LogCaptureFixture) -> None:
    broker = FakeBroker(_state(10), _state(0, frozenset()), _state(11))
    found: list[BrokerReset] = []
    watch = _watch(broker, found)
    assert await watch.look_once() is None  # the baseline
    with caplog.at_level(logging.WARNING, "crossbound.runtime.brokerwatch"):
        assert await watch.look_once() is None
    assert found == []
    assert "looked reset once, not on a second look" in caplog.text


async def test_a_broker_that_cannot_answer_proves_nothing() -> None:
    broker = FakeBroker(_state(10), KafkaConnectionError(), OSError("refused"), TimeoutError(), _state(10))
    found: list[BrokerReset] = []
    watch = _watch(broker, found)
    for _ in range(5):
        assert await watch.look_once() is None
    assert found == []


async def test_a_hint_looks_before_the_interval() -> None:
    broker = FakeBroker(_state(10), _state(0))
    found: list[BrokerReset] = []
    watch = _watch(broker, found, interval_s=3600)  # the timer alone would not look for an hour
    task = asyncio.create_task(watch.run())
    await asyncio.sleep(0.05)
    assert broker.looks == 0
    watch.hint()
    await asyncio.sleep(0.05)
    assert broker.looks == 1  # the baseline
    await asyncio.to_thread(watch.hint)  # from another thread, as aiokafka's consumer thread does
    reset = await asyncio.wait_for(task, 5)
    assert found == [reset]


def test_a_hint_before_the_watch_runs_is_ignored() -> None:
    _watch(FakeBroker(_state(1)), []).hint()


@pytest.fixture
def hints() -> Iterator[list[int]]:
    seen: list[int] = []
    undo = ResetHints(lambda: seen.append(1)).install()
    try:
        yield seen
    finally:
        undo()


def test_reset_errors_in_aiokafka_logs_are_hints(hints: list[int], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("aiokafka.cluster").error("Topic %s not found in cluster metadata", "hk.requests")
        logging.getLogger("aiokafka.consumer.group_coordinator").warning(
            "OffsetFetchRequest -- unknown topic %s", "hk.requests"
        )
        logging.getLogger("aiokafka.consumer.fetcher").info(
            "Fetch offset %s is out of range for partition %s, resetting offset", 9, "tp"
        )
        logging.getLogger("aiokafka.cluster").error("Unable connect to node with id %s", 1)
    assert len(hints) == 3
    # the fetcher's INFO line is for the hint only; the errors still reach the log
    assert "out of range" not in caplog.text
    assert "not found in cluster metadata" in caplog.text
    assert "Unable connect" in caplog.text


def test_hints_leave_the_loggers_as_they_were() -> None:
    fetcher = logging.getLogger("aiokafka.consumer.fetcher")
    fetcher.setLevel(logging.WARNING)
    try:
        undo = ResetHints(lambda: None).install()
        assert fetcher.level == logging.INFO
        undo()
        assert fetcher.level == logging.WARNING
        assert not fetcher.filters
    finally:
        fetcher.setLevel(logging.NOTSET)
