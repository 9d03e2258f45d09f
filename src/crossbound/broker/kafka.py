"""Run Apache Kafka (KRaft, the Apache jars run with ``java``) on loopback: the production broker.

The jars and Java are found by :mod:`crossbound.broker.kafka_jars`; each node's properties come from
:mod:`crossbound.broker.kafka_config`.

* :class:`KafkaCluster` runs one combined broker+controller node, or three nodes that are each broker
  and controller (a three-voter quorum), on free loopback ports, with storage formatted under a
  generated cluster id. It waits until every broker answers and lists the whole cluster, stops
  cleanly (SIGTERM, then SIGKILL after a grace period), and can kill, stop and restart one node.
* :func:`run_cluster` is the foreground mode behind ``crossbound broker --engine kafka``.

The cluster is for development and tests: every node on one machine, plain-text listeners on
127.0.0.1 (or, with ``secure``, SASL_SSL with SCRAM-SHA-512, a generated test CA and the
standard authorizer: :class:`~crossbound.broker.kafka_config.SecureMode`),
``group.initial.rebalance.delay.ms=0`` and smaller internal topics (see
:meth:`KafkaCluster.node_properties`). Production settings are in the README.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from crossbound.broker.kafka_config import (
    LOG4J,
    KafkaNode,
    SecureMode,
    new_cluster_id,
    node_properties,
    scram_format_args,
)
from crossbound.broker.kafka_jars import KAFKA_VERSION, find_java, find_kafka_libs
from crossbound.broker.lifecycle import StartStop
from crossbound.broker.net import (
    HOST,
    free_port,
    launch_logged,
    log_tail,
    metadata_probe,
    port_is_free,
    serve_until_stopped,
    terminate,
)
from crossbound.broker.secureprobe import secure_probe
from crossbound.errors import BrokerError

__all__ = ["KafkaCluster", "run_cluster"]

log = logging.getLogger(__name__)


class KafkaCluster(StartStop):
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
        secure: SecureMode | None = None,
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
        self.secure = secure
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
        return node_properties(self._node(node_id), list(self._nodes.values()), self._overrides, self.secure)

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
        (self._workdir / "log4j2.properties").write_text(LOG4J, encoding="utf-8")
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
                *(scram_format_args(self.secure) if self.secure is not None else []),
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
        header = f"starting node {node_id} at {time.strftime('%H:%M:%S')}"
        self._procs[node_id] = launch_logged(argv, node.log_path, header)

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
                listed = self._listed(node.port)
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

    def _listed(self, port: int) -> set[int]:
        if self.secure is None:
            return {node_id for node_id, _, _ in metadata_probe(HOST, port, timeout_s=1.0)}
        return secure_probe(f"{HOST}:{port}", self.secure)

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

    def __repr__(self) -> str:
        if not self._nodes:
            return f"<KafkaCluster nodes={self.nodes} stopped>"
        return f"<KafkaCluster {self.url} cluster_id={self.cluster_id}>"


# --------------------------------------------------------------------------------------------------
# Foreground mode: `crossbound broker --engine kafka`
# --------------------------------------------------------------------------------------------------


def run_cluster(
    nodes: int,
    port: int | None,
    libs: Path | None,
    *,
    as_json: bool = False,
    secure: SecureMode | None = None,
) -> int:
    """Run a cluster in the foreground until SIGINT or SIGTERM; 0 after a requested stop, 1 if a node
    died. Must be called from the main thread. ``as_json``: the banner is one JSON line. ``secure``:
    SASL_SSL and ACLs (the banner names the CA file and the super user, never a password)."""
    cluster = KafkaCluster(nodes, port=port, libs=libs, secure=secure)

    def banner() -> str:
        security = (
            {} if secure is None else {"ca_file": str(secure.pki.ca_file), "super_user": secure.admin[0]}
        )
        if as_json:
            summary = {"engine": "kafka", "version": KAFKA_VERSION, "nodes": nodes, "url": cluster.url}
            return json.dumps({**summary, "workdir": str(cluster.workdir), **security})
        plural = "s" if nodes > 1 else ""
        secured = (
            ""
            if secure is None
            else f"; SASL_SSL/SCRAM-SHA-512, CA {secure.pki.ca_file}, super user {secure.admin[0]}"
        )
        return (
            f"crossbound: Apache Kafka {KAFKA_VERSION} ({nodes} node{plural}, KRaft) on {cluster.url}"
            f"{secured}; data in {cluster.workdir}; Ctrl-C to stop"
        )

    def died() -> str | None:
        down = [n for n in cluster.node_ids if not cluster.running(n)]
        if not down:
            return None
        return f"crossbound: Kafka node(s) {down} exited unexpectedly; log {cluster.log_path(down[0])}"

    return serve_until_stopped(cluster, banner, died)
