"""Real brokers and real worker processes for the tests that need them (integration and contract).

Imported as a module (``import support``), never from a conftest. The fixtures over these live in
``tests/conftest.py`` (``brokers``, ``broker``) and ``tests/integration/conftest.py`` (``worker``, ``bus``).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from crossbound.broker import Broker, ensure_topics, make_broker
from crossbound.broker.net import free_port
from crossbound.broker.topicspec import topic_specs
from crossbound.settings import Settings
from crossbound.testing.live import LiveBus
from crossbound.testing.processes import start_worker_process, stop_process, wait_until_ready
from crossbound.topics import Topics

Bus = LiveBus  # the library's own simulated institutions and data holders


class Brokers:
    """One running broker per engine, started on first use and stopped by :meth:`close`.

    The session ``broker`` fixture and the contract tests' broker transport share it, so a session that
    runs both starts each engine once.
    """

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._running: dict[str, Broker] = {}

    def get(self, engine: str) -> Broker:
        if engine not in self._running:
            broker = make_broker(engine)
            self._stack.enter_context(broker)  # started here, stopped by close()
            self._running[engine] = broker
        return self._running[engine]

    def close(self) -> None:
        self._stack.close()
        self._running.clear()


def unique_topics(letter: str = "t") -> Topics:
    """Topics and a Faust app id no other test uses."""
    tag = os.urandom(4).hex()
    return Topics(prefix=f"{letter}{tag}.", app_id=f"cb{letter}{tag}")


def broker_settings(broker: Broker) -> Settings:
    """What a worker on ``broker`` runs with: the production defaults, lowered to one copy on one node."""
    return Settings() if getattr(broker, "nodes", 1) >= 3 else Settings().single_node()


async def create_topics(broker: Broker, topics: Topics, partitions: int = 4) -> None:
    """Every topic of ``topics`` (changelogs included) as the worker itself would create it."""
    await ensure_topics(
        broker.bootstrap, topic_specs(topics, broker_settings(broker).topic_settings(), partitions)
    )


def read_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """The next line a child process prints, or AssertionError after ``timeout_s``."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            raise AssertionError(f"{proc.args!r} printed nothing within {timeout_s} s")
    return proc.stdout.readline()


def end_process(proc: subprocess.Popen[str], grace_s: float) -> None:
    """Teardown of a CLI process a test started: SIGTERM (so it can stop what it runs), SIGKILL after
    ``grace_s``; its pipes closed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@dataclass
class Worker:
    """A real `crossbound worker` process on its own topics."""

    broker: Broker
    topics: Topics
    log_path: Path
    timeout_s: float = 2.0
    partitions: int = 4
    metrics_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    extra: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> Worker:
        self.proc = start_worker_process(
            self.broker.url,
            metrics_port=self.metrics_port,
            log_path=self.log_path,
            tansu=self.broker.engine == "tansu",
            extra=[
                "--replication-factor",
                str(broker_settings(self.broker).topic_settings().verdicts.replication_factor),
                "--app-id",
                self.topics.app_id,
                "--topic-prefix",
                self.topics.prefix,
                "--attestation-timeout",
                str(self.timeout_s),
                "--partitions",
                str(self.partitions),
                *self.extra,
            ],
            env=self.env,
        )
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Block until the worker's /readyz is 200 (partitions assigned, tables recovered); else stop it."""
        assert self.proc is not None
        try:
            wait_until_ready(self.proc, self.metrics_port, timeout_s)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())
