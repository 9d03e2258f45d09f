"""Unit tests of crossbound.testing.processes.wait_until_ready: it waits on /readyz, as orchestrators do."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from crossbound.broker.net import free_port
from crossbound.errors import CrossboundError
from crossbound.metrics import Metrics
from crossbound.metrics_server import serve_metrics
from crossbound.testing.processes import stop_process, wait_until_ready


@pytest.fixture
def alive() -> Iterator[subprocess.Popen[bytes]]:
    """A process that stays up, standing in for the worker (in a group of its own, as the worker is)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    yield proc
    stop_process(proc, 5.0)


def test_returns_once_readyz_answers_200(alive: subprocess.Popen[bytes]) -> None:
    answers = [False, False, True]
    asked: list[bool] = []

    def ready() -> bool:
        asked.append(answers.pop(0) if answers else True)
        return asked[-1]

    with serve_metrics(CollectorRegistry(), "127.0.0.1", 0, ready=ready) as server:
        wait_until_ready(alive, server.port, timeout_s=10)
    assert asked == [False, False, True]  # 503 twice: asked again, returned on the first 200


def test_follows_the_ready_gauge(alive: subprocess.Popen[bytes]) -> None:
    # the default signal: the gauge alone, no ready callable (the worker's case)
    registry = CollectorRegistry()
    Metrics(registry).set_ready(True)
    with serve_metrics(registry, "127.0.0.1", 0) as server:
        wait_until_ready(alive, server.port, timeout_s=10)


def test_503_until_the_timeout_raises(alive: subprocess.Popen[bytes]) -> None:
    registry = CollectorRegistry()
    Metrics(registry).set_ready(False)
    not_ready = pytest.raises(CrossboundError, match=r"^the worker was not ready after 0\.5 s$")
    with serve_metrics(registry, "127.0.0.1", 0) as server, not_ready:
        wait_until_ready(alive, server.port, timeout_s=0.5)


def test_no_server_yet_is_asked_again_until_the_timeout(alive: subprocess.Popen[bytes]) -> None:
    with pytest.raises(CrossboundError, match=r"not ready after 0\.3 s"):
        wait_until_ready(alive, free_port(), timeout_s=0.3)


def test_a_worker_that_exits_is_reported_with_its_code() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait(timeout=30)
    with pytest.raises(CrossboundError, match=r"^the worker exited with code 3 before it was ready$"):
        wait_until_ready(proc, free_port(), timeout_s=10)
