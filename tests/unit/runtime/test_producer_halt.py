"""What the worker does when a send fails for a reason that is not one record's (runtime.worker._Halt)."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import NoReturn

import pytest
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import CollectorRegistry

from crossbound.metrics import Metrics
from crossbound.runtime.worker import EXIT_PRODUCER_FAILED, _Halt


class Exited(Exception):
    pass


def _exit(code: int) -> NoReturn:
    raise Exited(code)


def test_a_producer_failure_is_not_ready_logged_once_closed_and_exits_69(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.set_ready(True)
    closed: list[str] = []
    with ExitStack() as stack:
        stack.callback(closed.append, "embedded broker")
        halt = _Halt(metrics, stack, exit=_exit)
        with caplog.at_level(logging.ERROR), pytest.raises(Exited) as exited:
            halt.producer_failed(KafkaTimeoutError())
    assert exited.value.args == (EXIT_PRODUCER_FAILED,)
    assert closed == ["embedded broker"]
    assert halt.reason == "producer failed: KafkaTimeoutError"  # /readyz says why
    assert registry.get_sample_value("crossbound_ready") == 0.0
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "KafkaTimeoutError" in error.getMessage()
    assert "code 69" in error.getMessage()
