"""Unit tests of crossbound.broker.net's loopback-port and process-teardown helpers."""

from __future__ import annotations

import socket
import subprocess
import sys

from crossbound.broker.net import HOST, free_port, port_is_free
from crossbound.testing.processes import stop_process


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert port_is_free(port)


def test_free_port_keeps_a_free_preferred_port_and_replaces_a_taken_one() -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        busy = taken.getsockname()[1]
        other = free_port(busy)
        assert other != busy
    wanted = free_port()
    assert free_port(wanted) == wanted
    assert free_port(0) != 0  # 0 is "no preference", never returned as a port


def test_stop_process_ends_the_whole_group_and_reaps() -> None:
    # a child that ignores nothing: SIGTERM to its group ends it well inside the grace period
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    stop_process(proc, timeout_s=10)
    assert proc.returncode is not None
    assert proc.returncode < 0
    stop_process(proc)  # a second stop of an ended process is a no-op
