"""Loopback ports, a raw Kafka probe and child-process helpers shared by both broker engines."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from types import FrameType
from typing import Any

from crossbound.errors import BrokerError

__all__ = [
    "HOST",
    "free_port",
    "launch_logged",
    "log_tail",
    "metadata_probe",
    "port_is_free",
    "serve_until_stopped",
    "signal_group",
    "terminate",
]

HOST = "127.0.0.1"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def free_port(preferred: int | None = None) -> int:
    """A TCP port on loopback that nothing listens on right now: ``preferred`` if it is free."""
    if preferred and port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """True when ``port`` can be bound on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks += chunk
    return bytes(chunks)


def metadata_probe(host: str, port: int, timeout_s: float = 1.0) -> list[tuple[int, str, int]]:
    """One Kafka Metadata v0 round trip; returns the advertised brokers as (node_id, host, port).

    Raises ``OSError`` (including ``ConnectionError`` and ``TimeoutError``) or ``ValueError`` when
    nothing, or something that is not a Kafka broker, answers.
    """
    correlation_id = 0x0C0B
    client_id = b"crossbound-probe"
    # RequestHeader v1 (api_key=3 Metadata, api_version=0) + body (topics: empty array = all).
    body = struct.pack(">hhih", 3, 0, correlation_id, len(client_id)) + client_id + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        if not 8 <= size <= 16 * 1024 * 1024:
            raise ValueError(f"implausible Metadata response size {size}")
        data = _recv_exact(sock, size)
    try:
        (got_id, n_brokers) = struct.unpack_from(">ii", data, 0)
        if got_id != correlation_id:
            raise ValueError(f"correlation id {got_id} != {correlation_id}")
        offset = 8
        brokers: list[tuple[int, str, int]] = []
        for _ in range(n_brokers):
            node_id, host_len = struct.unpack_from(">ih", data, offset)
            offset += 6
            broker_host = data[offset : offset + host_len].decode()
            offset += host_len
            (broker_port,) = struct.unpack_from(">i", data, offset)
            offset += 4
            brokers.append((node_id, broker_host, broker_port))
    except struct.error as exc:
        raise ValueError(f"malformed Metadata response: {exc}") from exc
    return brokers


def log_tail(path: Path, max_bytes: int = 4000) -> str:
    """The end of a log file, without ANSI colours, for an error message."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(log {path} unreadable: {exc})"
    return _ANSI.sub("", text).strip() or "(log is empty)"


def signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send ``sig`` to the child's process group (the child was started in a group of its own)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)


def terminate(proc: subprocess.Popen[bytes], grace_s: float) -> bool:
    """SIGTERM the group, wait ``grace_s``, then SIGKILL; always reaps. True if SIGKILL was needed."""
    if proc.poll() is not None:
        proc.wait()
        return False
    signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        signal_group(proc, signal.SIGKILL)
        proc.wait()
        return True
    return False


def serve_until_stopped(
    broker: AbstractContextManager[Any], banner: Callable[[], str], died: Callable[[], str | None]
) -> int:
    """Run ``broker`` in the foreground until SIGINT or SIGTERM (``crossbound broker``).

    Prints ``banner()`` once it is up; every half second asks ``died()`` for a reason it stopped by
    itself. Returns 0 after a requested stop, 1 if it died. Must be called from the main thread (it
    installs signal handlers, restored on return).
    """
    stop_requested = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with broker:
            print(banner(), flush=True)
            while not stop_requested.wait(0.5):
                reason = died()
                if reason is not None:
                    print(reason, file=sys.stderr, flush=True)
                    return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def launch_logged(argv: list[str], log_path: Path, header: str) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a process group of its own, output appended to ``log_path`` after ``header``.

    Raises :class:`~crossbound.errors.BrokerError` when it cannot be executed.
    """
    with log_path.open("ab") as out:
        out.write(f"--- crossbound: {header}\n".encode())
        out.flush()
        try:
            return subprocess.Popen(  # noqa: S603  a resolved executable plus fixed flags, no shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,
                close_fds=True,
            )
        except OSError as exc:
            raise BrokerError(f"cannot execute {argv[0]}: {exc}") from exc
    # the child holds its own copy of the log descriptor; ours is closed by the with block
