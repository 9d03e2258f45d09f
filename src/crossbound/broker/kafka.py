"""Run Apache Kafka (KRaft, the Apache jars run with ``java``) on loopback: the production broker.

The jars come from Maven Central at a pinned version (:data:`KAFKA_VERSION`) through the small Maven
descriptor shipped beside this module (``kafka_dist/pom.xml``) into a cache directory:
``crossbound broker --engine kafka --fetch`` (run by ``make kafka``, and so by ``make test``).

* :class:`KafkaCluster` runs one combined broker+controller node, or three nodes that are each broker
  and controller (a three-voter quorum), on free loopback ports, with storage formatted under a
  generated cluster id. It waits until every broker answers and lists the whole cluster, stops
  cleanly (SIGTERM, then SIGKILL after a grace period), and can kill, stop and restart one node.
* :func:`run_cluster` is the foreground mode behind ``crossbound broker --engine kafka``.

The cluster is for development and tests: every node on one machine, plain-text listeners on
127.0.0.1, ``group.initial.rebalance.delay.ms=0`` and smaller internal topics (see
:meth:`KafkaCluster.node_properties`). Production settings are in the README.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import FrameType, TracebackType
from typing import Self

from crossbound.broker.net import HOST, free_port, log_tail, metadata_probe, port_is_free, terminate
from crossbound.errors import BrokerError, BrokerNotFound

__all__ = [
    "KAFKA_VERSION",
    "KafkaCluster",
    "KafkaNode",
    "default_libs_dir",
    "fetch_kafka",
    "find_java",
    "find_kafka_libs",
    "new_cluster_id",
    "node_properties",
    "run_cluster",
]

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.4.0"
_SERVER_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"
_COMPLETE = ".complete"  # written last by fetch_kafka: a half-copied directory is never used
_LOG4J = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
logger.controller.name = kafka.server.ControllerServer
logger.controller.level = INFO
"""


# --------------------------------------------------------------------------------------------------
# Java and the jars
# --------------------------------------------------------------------------------------------------


def default_libs_dir() -> Path:
    """``$XDG_CACHE_HOME/crossbound/kafka-<version>`` (default ``~/.cache/crossbound/...``)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "crossbound" / f"kafka-{KAFKA_VERSION}"


def find_java() -> Path:
    """The ``java`` executable: ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which("java")
    if on_path is not None:
        return Path(on_path)
    raise BrokerNotFound(
        "no Java runtime for Apache Kafka: set JAVA_HOME or put `java` (17 or newer) on PATH; "
        "on Debian `apt-get install openjdk-17-jre-headless`, or run `make kafka`, which installs it"
    )


def find_kafka_libs(explicit: Path | None = None) -> Path:
    """The directory of Kafka jars: ``explicit`` (the ``CROSSBOUND_KAFKA_LIBS`` setting) or the cache.

    An explicit directory must hold a ``kafka_2.13-*.jar`` (any 4.x, e.g. an Apache Kafka download's
    ``libs/``); the cache directory must be complete (filled by :func:`fetch_kafka`).
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.is_dir() and any(path.glob("kafka_2.13-*.jar")):
            return path
        raise BrokerNotFound(
            f"CROSSBOUND_KAFKA_LIBS={str(explicit)!r} is not a directory holding kafka_2.13-*.jar"
        )
    cached = default_libs_dir()
    if (cached / _COMPLETE).is_file() and (cached / _SERVER_JAR).is_file():
        return cached
    raise BrokerNotFound(
        f"no Apache Kafka {KAFKA_VERSION} jars in {cached}: run `make kafka` (or "
        "`crossbound broker --engine kafka --fetch`, which needs Maven), or set CROSSBOUND_KAFKA_LIBS "
        "to a directory of Kafka 4.x jars such as an Apache Kafka download's libs/"
    )


def _pom_text() -> str:
    return resources.files("crossbound.broker").joinpath("kafka_dist", "pom.xml").read_text("utf-8")


def fetch_kafka(target: Path | None = None, *, mvn: str | None = None) -> Path:
    """Copy the pinned Kafka jars and their dependencies from Maven Central into ``target``.

    Does nothing when ``target`` is already complete. The copy goes to a temporary directory beside
    ``target`` and is renamed into place, so an interrupted fetch leaves nothing half-done.
    """
    target = target if target is not None else default_libs_dir()
    if (target / _COMPLETE).is_file() and (target / _SERVER_JAR).is_file():
        return target
    maven = mvn or shutil.which("mvn")
    if maven is None:
        raise BrokerNotFound(
            "Maven (`mvn`) is needed to fetch the Apache Kafka jars; on Debian `apt-get install maven`, "
            "or run `make kafka`, which installs it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        pom = staging / "pom.xml"
        pom.write_text(_pom_text(), encoding="utf-8")
        libs = staging / "libs"
        argv = [
            maven,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603  fixed argv
        if done.returncode != 0 or not (libs / _SERVER_JAR).is_file():
            tail = (done.stdout + done.stderr).strip()[-2000:]
            raise BrokerError(
                f"fetching Apache Kafka {KAFKA_VERSION} with Maven failed ({done.returncode}):\n{tail}"
            )
        (libs / _COMPLETE).write_text(f"kafka {KAFKA_VERSION}\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(libs, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's ``Uuid``).

    Never starting with ``-`` (as Kafka's ``Uuid.randomUuid``): ``kafka-storage format -t -xyz`` takes
    the id for an option and fails."""
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


# --------------------------------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """One node of a cluster: its id, client and controller ports, and its directory."""

    node_id: int
    port: int
    controller_port: int
    home: Path

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def log_path(self) -> Path:
        return self.home / "kafka.log"


def node_properties(
    node: KafkaNode, cluster: Sequence[KafkaNode], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The ``server.properties`` of ``node`` in ``cluster`` (every node is broker and controller)."""
    voters = ",".join(f"{n.node_id}@{HOST}:{n.controller_port}" for n in cluster)
    rf, isr = str(min(3, len(cluster))), str(min(2, len(cluster)))
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{HOST}:{node.port},CONTROLLER://{HOST}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{node.port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(node.data_dir),
        # internal topics as a three-node production cluster has them (one node: RF 1)
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": isr,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": isr,
        "default.replication.factor": rf,
        "min.insync.replicas": isr,
        "unclean.leader.election.enable": "false",
        # every topic is created explicitly; a typo must fail, not create a topic
        "auto.create.topics.enable": "false",
        # development and tests on two cores: no join delay, fewer internal partitions
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.num.partitions": "3",
        "num.partitions": "4",
        "num.network.threads": "2",
        "num.io.threads": "4",
    }
    props.update(overrides or {})
    return props


class KafkaCluster:
    """Apache Kafka in KRaft mode on ``127.0.0.1``: ``nodes`` combined broker+controller processes.

    ``port`` fixes the first node's client port (the others, and every controller port, are free
    ports). ``libs`` is the directory of jars (default: :func:`find_kafka_libs`), ``workdir`` where
    configs, data and logs go (default: a temporary directory removed by :meth:`stop`).
    ``overrides`` are extra broker properties for every node.

    Node ids are ``1..nodes``. Use as ``with KafkaCluster(nodes=3) as kafka:`` or ``async with``.
    """

    engine = "kafka"

    def __init__(
        self,
        nodes: int = 1,
        *,
        port: int | None = None,
        libs: Path | None = None,
        workdir: Path | None = None,
        heap_mb: int = 512,
        overrides: Mapping[str, str] | None = None,
        startup_timeout_s: float = 90.0,
        stop_timeout_s: float = 30.0,
    ) -> None:
        if nodes not in (1, 3):
            raise ValueError(f"nodes must be 1 or 3 (a controller quorum of one or three), got {nodes}")
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535, got {port}")
        self.nodes = nodes
        self._requested_port = port
        self._libs_arg = libs
        self._workdir_arg = workdir
        self._heap_mb = heap_mb
        self._overrides = dict(overrides or {})
        self._startup_timeout_s = startup_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._lock = threading.RLock()
        self._nodes: dict[int, KafkaNode] = {}
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._java: Path | None = None
        self._libs: Path | None = None
        self._workdir: Path | None = None
        self._temp_workdir = False
        self.cluster_id: str | None = None

    # -- what it is -----------------------------------------------------------------------------

    def _require_started(self) -> dict[int, KafkaNode]:
        if not self._nodes:
            raise BrokerError("the Kafka cluster is not running")
        return self._nodes

    @property
    def node_ids(self) -> list[int]:
        """``[1]`` or ``[1, 2, 3]``."""
        return list(range(1, self.nodes + 1))

    @property
    def ports(self) -> dict[int, int]:
        """Client port of each node."""
        return {n.node_id: n.port for n in self._require_started().values()}

    @property
    def bootstrap(self) -> str:
        """aiokafka ``bootstrap_servers``: every node, ``127.0.0.1:P1,127.0.0.1:P2,...``."""
        return ",".join(f"{HOST}:{port}" for port in self.ports.values())

    @property
    def url(self) -> str:
        """The cluster as crossbound's ``--broker`` URL, ``kafka://127.0.0.1:P1,...``."""
        return f"kafka://{self.bootstrap}"

    @property
    def workdir(self) -> Path:
        """Where each node's ``node-<id>/`` (config, data, log) lives."""
        if self._workdir is None:
            raise BrokerError("the Kafka cluster is not running")
        return self._workdir

    def log_path(self, node_id: int) -> Path:
        """The log file of one node."""
        return self._node(node_id).log_path

    def pid(self, node_id: int) -> int | None:
        """Process id of a node, ``None`` while it is down."""
        proc = self._procs.get(node_id)
        return proc.pid if proc is not None and proc.poll() is None else None

    def running(self, node_id: int | None = None) -> bool:
        """Whether one node (or every node) is alive."""
        ids = [node_id] if node_id is not None else self.node_ids
        return bool(self._nodes) and all(self.pid(i) is not None for i in ids)

    def _node(self, node_id: int) -> KafkaNode:
        nodes = self._require_started()
        if node_id not in nodes:
            raise ValueError(f"no node {node_id}; nodes are {sorted(nodes)}")
        return nodes[node_id]

    def node_properties(self, node_id: int) -> dict[str, str]:
        """The ``server.properties`` of one node (after :meth:`start` has chosen the ports)."""
        return node_properties(self._node(node_id), list(self._nodes.values()), self._overrides)

    # -- start ----------------------------------------------------------------------------------

    def start(self) -> Self:
        """Format storage, start every node and wait until all answer; idempotent."""
        with self._lock:
            if self._nodes:
                return self
            self._java = find_java()
            self._libs = find_kafka_libs(self._libs_arg)
            if self._workdir_arg is None:
                self._workdir = Path(tempfile.mkdtemp(prefix="crossbound-kafka-"))
                self._temp_workdir = True
            else:
                self._workdir = self._workdir_arg
                self._workdir.mkdir(parents=True, exist_ok=True)
            self.cluster_id = new_cluster_id()
            self._nodes = self._choose_ports(self._workdir)
            try:
                self._format_all()
                for node_id in self.node_ids:
                    self._launch(node_id)
                self._wait_cluster(self.node_ids)
            except BaseException:
                self._stop_all()
                self._temp_workdir = False  # keep the logs: the error message points at them
                raise
        log.info("kafka cluster %s on %s (%s)", self.cluster_id, self.bootstrap, self._workdir)
        return self

    def _choose_ports(self, workdir: Path) -> dict[int, KafkaNode]:
        taken: set[int] = set()

        def pick() -> int:
            while True:
                port = free_port()
                if port not in taken:
                    taken.add(port)
                    return port

        nodes = {}
        for node_id in self.node_ids:
            if node_id == 1 and self._requested_port is not None:
                if not port_is_free(self._requested_port):
                    raise BrokerError(f"cannot start Kafka: port {HOST}:{self._requested_port} is in use")
                port = self._requested_port
                taken.add(port)
            else:
                port = pick()
            nodes[node_id] = KafkaNode(node_id, port, pick(), workdir / f"node-{node_id}")
        return nodes

    def _java_argv(self, main: str, *args: str, heap_mb: int) -> list[str]:
        assert self._java is not None
        assert self._libs is not None
        assert self._workdir is not None
        return [
            str(self._java),
            f"-Xmx{heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self._workdir / 'log4j2.properties'}",
            "-cp",
            f"{self._libs}/*",
            main,
            *args,
        ]

    def _format_all(self) -> None:
        assert self._workdir is not None
        assert self.cluster_id is not None
        (self._workdir / "log4j2.properties").write_text(_LOG4J, encoding="utf-8")
        formatting = []
        for node in self._nodes.values():
            node.home.mkdir(parents=True, exist_ok=True)
            text = "".join(f"{k}={v}\n" for k, v in self.node_properties(node.node_id).items())
            node.config.write_text(text, encoding="utf-8")
            argv = self._java_argv(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                self.cluster_id,
                "-c",
                str(node.config),
                heap_mb=256,
            )
            with node.log_path.open("ab") as out:
                proc = subprocess.Popen(  # noqa: S603  resolved java plus fixed flags, no shell
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
                )
            formatting.append((node, proc))
        for node, proc in formatting:
            if proc.wait(timeout=self._startup_timeout_s) != 0:
                raise BrokerError(
                    f"formatting Kafka storage of node {node.node_id} failed ({proc.returncode}); "
                    f"log {node.log_path}:\n{log_tail(node.log_path)}"
                )

    def _launch(self, node_id: int) -> None:
        node = self._nodes[node_id]
        argv = self._java_argv("kafka.Kafka", str(node.config), heap_mb=self._heap_mb)
        with node.log_path.open("ab") as out:
            out.write(f"--- crossbound: starting node {node_id} at {time.strftime('%H:%M:%S')}\n".encode())
            out.flush()
            try:
                self._procs[node_id] = subprocess.Popen(  # noqa: S603  resolved java plus fixed flags, no shell
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    process_group=0,
                    close_fds=True,
                )
            except OSError as exc:
                raise BrokerError(f"cannot execute {argv[0]}: {exc}") from exc

    def _wait_cluster(self, node_ids: Sequence[int]) -> None:
        """Until each node in ``node_ids`` answers Metadata and lists every running node."""
        deadline = time.monotonic() + self._startup_timeout_s
        want = {n for n in self.node_ids if n in node_ids or self.pid(n) is not None}
        pending = list(node_ids)
        last = "no answer yet"
        while pending:
            node = self._nodes[pending[0]]
            proc = self._procs[node.node_id]
            if proc.poll() is not None:
                raise BrokerError(
                    f"Kafka node {node.node_id} exited with status {proc.returncode} while starting; "
                    f"log {node.log_path}:\n{log_tail(node.log_path)}"
                )
            try:
                listed = {node_id for node_id, _, _ in metadata_probe(HOST, node.port, timeout_s=1.0)}
            except (OSError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if want <= listed:
                    pending.pop(0)
                    continue
                last = f"node {node.node_id} lists brokers {sorted(listed)}, want {sorted(want)}"
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"Kafka did not become ready within {self._startup_timeout_s:g} s ({last}); "
                    f"log {node.log_path}:\n{log_tail(node.log_path)}"
                )
            time.sleep(0.1)

    # -- one node -------------------------------------------------------------------------------

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node (its data stays for :meth:`start_node`)."""
        with self._lock:
            self._node(node_id)
            proc = self._procs.get(node_id)
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_node(self, node_id: int) -> None:
        """Stop one node cleanly (SIGTERM, SIGKILL after the grace period)."""
        with self._lock:
            self._node(node_id)
            proc = self._procs.get(node_id)
            if proc is not None:
                terminate(proc, self._stop_timeout_s)

    def start_node(self, node_id: int) -> None:
        """Start a node that was stopped or killed, and wait until it has rejoined the cluster."""
        with self._lock:
            self._node(node_id)
            if self.pid(node_id) is not None:
                return
            self._launch(node_id)
            self._wait_cluster([node_id])

    def restart_node(self, node_id: int, *, kill: bool = False) -> None:
        """Stop (or kill) one node, then start it again."""
        (self.kill_node if kill else self.stop_node)(node_id)
        self.start_node(node_id)

    def controller_leader(self, timeout_s: float = 15.0) -> int:
        """The node id of the active controller (the KRaft quorum leader), waiting out an election.

        Read from each running node's ``quorum-state`` file: the leader of the highest epoch any
        running node has seen. While that epoch has no known leader (an election is under way) it
        waits, up to ``timeout_s``, then raises :class:`BrokerError`.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            epoch, leader = self._quorum_state()
            if leader is not None:
                return leader
            if time.monotonic() >= deadline:
                raise BrokerError(f"no KRaft controller leader known for epoch {epoch} after {timeout_s:g} s")
            time.sleep(0.1)

    def _quorum_state(self) -> tuple[int, int | None]:
        newest, leaders = -1, {}
        for node in self._require_started().values():
            if self.pid(node.node_id) is None:
                continue
            state = node.data_dir / "__cluster_metadata-0" / "quorum-state"
            try:
                data = json.loads(state.read_text(encoding="utf-8"))
                epoch, leader = int(data["leaderEpoch"]), int(data["leaderId"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            newest = max(newest, epoch)
            if leader > 0:
                leaders[epoch] = leader
        return newest, leaders.get(newest)

    # -- stop -----------------------------------------------------------------------------------

    def _stop_all(self) -> None:
        procs = [p for p in self._procs.values() if p.poll() is None]
        for proc in procs:  # all at once: a three-node shutdown then takes one grace period, not three
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._stop_timeout_s
        for proc in procs:
            terminate(proc, max(0.1, deadline - time.monotonic()))
        self._procs.clear()

    def stop(self) -> None:
        """Stop every node (SIGTERM, SIGKILL after the grace period); removes a temporary workdir."""
        with self._lock:
            self._stop_all()
            self._nodes = {}
            if self._temp_workdir and self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._temp_workdir = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def start_async(self) -> Self:
        """:meth:`start` without blocking the event loop."""
        return await asyncio.to_thread(self.start)

    async def stop_async(self) -> None:
        """:meth:`stop` without blocking the event loop."""
        await asyncio.to_thread(self.stop)

    async def __aenter__(self) -> Self:
        return await self.start_async()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop_async()

    def __repr__(self) -> str:
        if not self._nodes:
            return f"<KafkaCluster nodes={self.nodes} stopped>"
        return f"<KafkaCluster {self.url} cluster_id={self.cluster_id}>"


# --------------------------------------------------------------------------------------------------
# Foreground mode: `crossbound broker --engine kafka`
# --------------------------------------------------------------------------------------------------


def run_cluster(nodes: int, port: int | None, libs: Path | None) -> int:
    """Run a cluster in the foreground until SIGINT or SIGTERM; 0 after a requested stop, 1 if it died.

    Must be called from the main thread (it installs signal handlers, restored on return).
    """
    stop_requested = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with KafkaCluster(nodes, port=port, libs=libs) as cluster:
            print(
                f"crossbound: Apache Kafka {KAFKA_VERSION} ({nodes} node{'s' if nodes > 1 else ''}, "
                f"KRaft) on {cluster.url}; data in {cluster.workdir}; Ctrl-C to stop",
                flush=True,
            )
            while not stop_requested.wait(0.5):
                down = [n for n in cluster.node_ids if not cluster.running(n)]
                if down:
                    print(
                        f"crossbound: Kafka node(s) {down} exited unexpectedly; "
                        f"log {cluster.log_path(down[0])}",
                        file=sys.stderr,
                        flush=True,
                    )
                    return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
