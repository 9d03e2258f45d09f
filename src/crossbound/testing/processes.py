"""Run worker processes: start one, wait until it is ready, stop it. Used by the demo, bench and tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from crossbound.broker.net import terminate
from crossbound.errors import CrossboundError

__all__ = ["start_worker_process", "stop_process", "wait_until_ready"]

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def start_worker_process(
    broker_url: str,
    *,
    metrics_port: int,
    log_path: Path,
    tansu: bool,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``crossbound worker`` as a child process (its own process group), logging to a file.

    ``tansu`` turns on the Tansu client workarounds (only for a Tansu broker).
    """
    cmd = [
        sys.executable,
        "-m",
        "crossbound",
        "worker",
        "--broker",
        broker_url,
        "--metrics-port",
        str(metrics_port),
        # Tansu holds a join for half the session timeout: keep it short there. Kafka refuses sessions
        # under its group.min.session.timeout.ms (6 s by default) and joins at once: use the default.
        *(["--session-timeout", "3"] if tansu else []),
        *(extra or []),
    ]
    child_env = {**os.environ, "CROSSBOUND_KAFKA__COMPAT_TANSU": "true" if tansu else "false", **(env or {})}
    with log_path.open("ab") as log:
        return subprocess.Popen(  # noqa: S603  our own interpreter and module, no shell
            cmd, stdout=log, stderr=subprocess.STDOUT, env=child_env, start_new_session=True
        )


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    """SIGTERM the worker's process group, wait ``timeout_s``, then SIGKILL; always reaps.

    The same teardown as the broker engines' (:func:`crossbound.broker.net.terminate`).
    """
    terminate(proc, timeout_s)


def wait_until_ready(proc: subprocess.Popen[bytes], metrics_port: int, timeout_s: float = 60.0) -> None:
    """Poll the worker's ``/readyz`` until it answers 200; raise if the worker exits or times out.

    ``/readyz`` is the orchestrator's probe (partitions assigned, tables recovered), so the tests and the
    demo wait on what a deployment waits on; 503 (not ready yet) and a refused connection (the server
    not up yet) both mean "ask again". Loopback is asked directly, never through a proxy from the
    environment.
    """
    url = f"http://127.0.0.1:{metrics_port}/readyz"
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise CrossboundError(f"the worker exited with code {proc.returncode} before it was ready")
        try:
            with _DIRECT.open(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:  # 503: not ready yet
            exc.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise CrossboundError(f"the worker was not ready after {timeout_s:g} s")
