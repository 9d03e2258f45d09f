"""Unit tests of crossbound.metrics_server: /metrics, the probes, binding and closing."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry

from crossbound.broker.net import free_port
from crossbound.metrics import Metrics
from crossbound.metrics_server import MetricsServer, serve_metrics

# Never go through an HTTP proxy from the environment to reach a loopback server.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_serve_metrics_on_a_free_port_and_close_frees_it(registry: CollectorRegistry) -> None:
    Metrics(registry).verdict("sz", "trade_finance", "REVIEW", 1.5)
    server = serve_metrics(registry, "127.0.0.1", 0)
    try:
        assert server.host == "127.0.0.1"
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        with _NO_PROXY.open(server.url, timeout=5) as response:
            assert response.status == 200
            text = response.read().decode()
        assert 'crossbound_verdicts_total{outcome="REVIEW",scenario="trade_finance",side="sz"} 1.0' in text
        assert "crossbound_verdict_latency_seconds_bucket" in text
    finally:
        server.close()
    server.close()  # a second close is harmless

    # The port is free again: a new listener can bind it, and nothing answers any more.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", server.port))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.settimeout(2)
        with pytest.raises(ConnectionRefusedError):
            client.connect(("127.0.0.1", server.port))


def test_serve_metrics_binds_loopback_by_default(registry: CollectorRegistry) -> None:
    Metrics(registry)
    with serve_metrics(registry, port=0) as server:
        assert server.host == "127.0.0.1"
        with _NO_PROXY.open(server.url, timeout=5) as response:
            assert b"# TYPE crossbound_verdicts_total counter" in response.read()


def _get(server: MetricsServer, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{server.port}{path}"
    try:
        with _NO_PROXY.open(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def test_healthz_is_200_while_serving_readyz_follows_the_ready_gauge(registry: CollectorRegistry) -> None:
    metrics = Metrics(registry)
    with serve_metrics(registry, "127.0.0.1", free_port()) as server:
        assert _get(server, "/healthz") == (200, "ok\n")
        assert _get(server, "/readyz") == (503, "not ready\n")  # before the first assignment
        metrics.set_ready(True)
        assert _get(server, "/readyz") == (200, "ready\n")
        assert _get(server, "/healthz")[0] == 200
        metrics.set_ready(False)  # a rebalance started
        assert _get(server, "/readyz")[0] == 503


def test_readyz_without_the_gauge_is_not_ready(registry: CollectorRegistry) -> None:
    with serve_metrics(registry, "127.0.0.1", 0) as server:
        assert _get(server, "/readyz")[0] == 503


def test_readyz_asks_the_given_readiness_signal(registry: CollectorRegistry) -> None:
    answers = [False, True]
    with serve_metrics(registry, "127.0.0.1", 0, ready=lambda: answers.pop(0)) as server:
        assert _get(server, "/readyz")[0] == 503
        assert _get(server, "/readyz")[0] == 200


def test_a_broker_reset_makes_readyz_503_for_good_with_its_reason(registry: CollectorRegistry) -> None:
    metrics = Metrics(registry)
    reason: list[str | None] = [None]
    with serve_metrics(registry, "127.0.0.1", 0, reason=lambda: reason[0]) as server:
        metrics.set_ready(True)
        assert _get(server, "/readyz") == (200, "ready\n")
        reason[0] = "broker reset: topics: hk.requests gone"
        metrics.found_broker_reset(("topics", "changelogs"))
        assert _get(server, "/readyz") == (503, "not ready: broker reset: topics: hk.requests gone\n")
        metrics.set_ready(True)  # a rebalance completing afterwards does not make it ready again
        assert _get(server, "/readyz")[0] == 503
    assert registry.get_sample_value("crossbound_broker_reset_total", {"what": "topics"}) == 1.0
    assert registry.get_sample_value("crossbound_broker_reset_total", {"what": "changelogs"}) == 1.0
    assert registry.get_sample_value("crossbound_broker_reset_found") == 1.0
    assert registry.get_sample_value("crossbound_ready") == 0.0


@pytest.mark.parametrize("path", ["/", "/metrics/", "/favicon.ico", "/readyz/x"])
def test_other_paths_are_404(registry: CollectorRegistry, path: str) -> None:
    Metrics(registry)
    with serve_metrics(registry, "127.0.0.1", 0) as server:
        code, body = _get(server, path)
        assert code == 404
        assert "/metrics" in body
        assert _get(server, "/metrics")[0] == 200
