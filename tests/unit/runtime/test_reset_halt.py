"""What the worker does once its broker lost its state (runtime.worker._Halt), without exiting the tests."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import NoReturn

import pytest
from prometheus_client import CollectorRegistry

from crossbound.metrics import Metrics
from crossbound.runtime.resets import BrokerReset
from crossbound.runtime.worker import EXIT_BROKER_RESET, _Halt


class Exited(Exception):
    pass


def _exit(code: int) -> NoReturn:
    raise Exited(code)


def test_a_reset_is_not_ready_counted_logged_once_closed_and_exits_75(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.set_ready(True)
    closed: list[str] = []
    with ExitStack() as stack:
        stack.callback(closed.append, "embedded broker")
        halt = _Halt(metrics, stack, exit=_exit)
        reset = BrokerReset(
            ("topics", "offsets"), "topics: hk.requests gone | offsets: hk.verdicts[0] log end 0 < 7"
        )
        with caplog.at_level(logging.ERROR), pytest.raises(Exited) as exited:
            halt(reset)
    assert exited.value.args == (EXIT_BROKER_RESET,)
    assert EXIT_BROKER_RESET == 75
    assert closed == ["embedded broker"]  # before the exit, once
    assert halt.reason == f"broker reset: {reset.detail}"
    assert registry.get_sample_value("crossbound_ready") == 0.0
    assert registry.get_sample_value("crossbound_broker_reset_found") == 1.0
    assert registry.get_sample_value("crossbound_broker_reset_total", {"what": "offsets"}) == 1.0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert reset.detail in errors[0].getMessage()
    assert "code 75" in errors[0].getMessage()
