"""What the worker does when it must stop (runtime.worker._Halt), without exiting the tests: its broker
lost its state (exit 75), or a send failed for a reason that is not one record's (exit 69)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import NoReturn

import pytest
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import CollectorRegistry

from crossbound.metrics import Metrics
from crossbound.runtime.resets import BrokerReset
from crossbound.runtime.worker import EXIT_BROKER_RESET, EXIT_PRODUCER_FAILED, _Halt


class Exited(Exception):
    pass


def _exit(code: int) -> NoReturn:
    raise Exited(code)


@dataclass
class Halting:
    """A ready worker's metrics, and what its exit stack closed."""

    registry: CollectorRegistry
    halt: _Halt
    closed: list[str] = field(default_factory=list)

    def error(self, caplog: pytest.LogCaptureFixture) -> str:
        """The one ERROR line logged."""
        [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
        return error.getMessage()


@pytest.fixture
def halting() -> Iterator[Halting]:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.set_ready(True)
    with ExitStack() as stack:
        halting = Halting(registry, _Halt(metrics, stack, exit=_exit))
        stack.callback(halting.closed.append, "embedded broker")
        yield halting


def test_a_reset_is_not_ready_counted_logged_once_closed_and_exits_75(
    halting: Halting, caplog: pytest.LogCaptureFixture
) -> None:
    reset = BrokerReset(
        ("topics", "offsets"), "topics: hk.requests gone | offsets: hk.verdicts[0] log end 0 < 7"
    )
    with caplog.at_level(logging.ERROR), pytest.raises(Exited) as exited:
        halting.halt(reset)
    assert exited.value.args == (EXIT_BROKER_RESET,)
    assert EXIT_BROKER_RESET == 75
    assert halting.closed == ["embedded broker"]  # before the exit, once
    assert halting.halt.reason == f"broker reset: {reset.detail}"
    assert halting.registry.get_sample_value("crossbound_ready") == 0.0
    assert halting.registry.get_sample_value("crossbound_broker_reset_found") == 1.0
    assert halting.registry.get_sample_value("crossbound_broker_reset_total", {"what": "offsets"}) == 1.0
    message = halting.error(caplog)
    assert reset.detail in message
    assert "code 75" in message


def test_a_producer_failure_is_not_ready_logged_once_closed_and_exits_69(
    halting: Halting, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), pytest.raises(Exited) as exited:
        halting.halt.producer_failed(KafkaTimeoutError())
    assert exited.value.args == (EXIT_PRODUCER_FAILED,)
    assert EXIT_PRODUCER_FAILED == 69
    assert halting.closed == ["embedded broker"]
    assert halting.halt.reason == "producer failed: KafkaTimeoutError"  # /readyz says why
    assert halting.registry.get_sample_value("crossbound_ready") == 0.0
    message = halting.error(caplog)
    assert "KafkaTimeoutError" in message
    assert "code 69" in message
