"""The deploy/ Prometheus files pass promtool, and a real Prometheus scrapes a Metrics registry.

Needs ``promtool`` and ``prometheus`` on PATH (Debian package ``prometheus``, installed by ``make test``).
Without them the tests skip, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from crossbound.broker.net import free_port
from crossbound.metrics import Metrics
from crossbound.metrics_server import serve_metrics

pytestmark = pytest.mark.tools

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SCRAPE_TIMEOUT_S = 20.0

# Never go through an HTTP proxy from the environment to reach a loopback server.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package 'prometheus'); `make test` installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_check_config() -> None:
    # rule_files: [alerts.yml] is resolved relative to the config file, so this also loads the rules.
    result = _run(_tool("promtool"), "check", "config", "deploy/prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout + result.stderr


def test_promtool_check_rules() -> None:
    result = _run(_tool("promtool"), "check", "rules", "deploy/alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules() -> None:
    result = _run(_tool("promtool"), "test", "rules", "deploy/alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    try:
        with _NO_PROXY.open(url, timeout=2) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        with exc:  # the error holds the response: close it
            if exc.code == 503:  # starting, not ready yet
                return []
            pytest.fail(f"{promql}: HTTP {exc.code} {exc.read()[:2000]!r}")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return []  # not listening yet
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _wait_for_value(
    base: str, promql: str, expected: float, proc: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + SCRAPE_TIMEOUT_S
    last: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        last = _query(base, promql)
        if last and float(last[0]["value"][1]) == expected:
            return
        time.sleep(0.25)
    tail = log.read_text()[-4000:]
    pytest.fail(f"{promql} never reached {expected} in {SCRAPE_TIMEOUT_S}s; last {last}\n{tail}")


def test_real_prometheus_scrapes_the_metrics_endpoint(tmp_path: Path) -> None:
    prometheus = _tool("prometheus")
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.set_build_info("0.1.0")
    for _ in range(3):
        metrics.verdict("hk", "trade_finance", "ACCEPT", 0.2)
    metrics.verdict("hk", "trade_finance", "REJECT", 45.0)

    with serve_metrics(registry, "127.0.0.1", 0) as target:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: crossbound\n"
            "    scrape_interval: 1s\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target.port}']\n"
        )
        web_port = free_port()
        base = f"http://127.0.0.1:{web_port}"
        log = tmp_path / "prometheus.log"
        with (
            log.open("wb") as log_file,
            subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{web_port}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            ) as proc,
        ):
            try:
                accepted = 'crossbound_verdicts_total{job="crossbound",side="hk",outcome="ACCEPT"}'
                _wait_for_value(base, accepted, 3.0, proc, log)

                # Later increments show up on the next scrapes.
                metrics.verdict("hk", "trade_finance", "ACCEPT", 0.2)
                metrics.verdict("hk", "trade_finance", "ACCEPT", 0.2)
                _wait_for_value(base, accepted, 5.0, proc, log)

                series = _query(base, accepted)
                assert series[0]["metric"]["scenario"] == "trade_finance"
                assert series[0]["metric"]["instance"] == f"127.0.0.1:{target.port}"
                slow = 'crossbound_verdict_latency_seconds_bucket{side="hk",le="30.0"}'
                assert float(_query(base, slow)[0]["value"][1]) == 5.0
                assert float(_query(base, 'up{job="crossbound"}')[0]["value"][1]) == 1.0
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
