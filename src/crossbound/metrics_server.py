"""The HTTP server of the worker's metrics: the registry on ``/metrics``, and the probes beside it.

An orchestrator asks ``/healthz`` (200 while the process serves: liveness) and ``/readyz`` (200 while
the worker is ready, by default while the ``crossbound_ready`` gauge of :class:`crossbound.metrics.Metrics`
is 1, else 503, with the reason when one is known: ``not ready: broker reset: ...``); every other path
is 404. It serves from a daemon thread, apart from the event loop, and
reads the registry only (the metric children are thread-safe), so it never blocks the pipeline.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from threading import Thread
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from _typeshed.wsgi import WSGIApplication as WSGIApp

__all__ = ["MetricsServer", "serve_metrics"]


class MetricsServer:
    """A running metrics server (``/metrics``, ``/healthz``, ``/readyz``); stop it with :meth:`close` (or
    use it as a context manager).

    Attributes:
        host: the address it listens on.
        port: the port actually bound (the chosen one when 0 was asked for).
    """

    def __init__(self, server: WSGIServer, thread: Thread, host: str) -> None:
        self._server = server
        self._thread = thread
        self.host: Final[str] = host
        self.port: Final[int] = int(server.server_address[1])
        self._closed = False

    @property
    def url(self) -> str:
        """The ``http://host:port/metrics`` address (IPv6 hosts bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving, close the listening socket and join the server thread; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MetricsServer(host={self.host!r}, port={self.port}, closed={self._closed})"


def _registry_ready(registry: CollectorRegistry) -> Callable[[], bool]:
    # the crossbound_ready gauge the runtime sets on rebalance; absent (no Metrics) means not ready
    return lambda: registry.get_sample_value("crossbound_ready") == 1.0


def _app(registry: CollectorRegistry, ready: Callable[[], bool], reason: Callable[[], str | None]) -> WSGIApp:
    metrics_app = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return metrics_app(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            status, body = "200 OK", b"ok\n"
        elif path == "/readyz":
            status, body = (
                ("200 OK", b"ready\n") if ready() else ("503 Service Unavailable", _not_ready(reason))
            )
        else:
            status, body = "404 Not Found", b"not found: /metrics, /healthz, /readyz\n"
        start_response(
            status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return app


def _not_ready(reason: Callable[[], str | None]) -> bytes:
    why = reason()
    return b"not ready\n" if why is None else f"not ready: {why}\n".encode()


class _QuietHandler(WSGIRequestHandler):
    """No access log: scrapes and probes every few seconds would drown the worker's log."""

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a hung client must not keep the process alive


def serve_metrics(
    registry: CollectorRegistry,
    host: str = "127.0.0.1",
    port: int = 9464,
    *,
    ready: Callable[[], bool] | None = None,
    reason: Callable[[], str | None] | None = None,
) -> MetricsServer:
    """Serve ``registry`` on ``http://host:port/metrics`` from a daemon thread, with probes beside it.

    ``/healthz`` answers 200 while the process serves at all (liveness). ``/readyz`` answers 200 when
    ``ready()`` is true, else 503 (readiness: partitions assigned and tables recovered). Any other
    path is 404.

    Args:
        registry: the registry to expose (never the global one unless passed explicitly).
        host: the address to bind; loopback by default. Use ``0.0.0.0`` only inside a container.
        port: the TCP port; 0 picks a free one, readable afterwards as ``MetricsServer.port``.
        ready: the readiness signal; default: the registry's ``crossbound_ready`` gauge is 1, the
            one the runtime sets on every rebalance, so ``/readyz`` and the gauge cannot disagree.
        reason: why the worker is not ready, when it knows (``None`` otherwise): the 503 body says
            ``not ready: <reason>``. The worker gives the broker reset it found (never record data).

    Raises:
        OSError: the address cannot be bound (port in use, unknown host).
    """
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]

    class Server(_Server):
        address_family = family  # IPv6 hosts bind too

    app = _app(registry, ready or _registry_ready(registry), reason or (lambda: None))
    server: WSGIServer = make_server(host, port, app, server_class=Server, handler_class=_QuietHandler)
    thread = Thread(target=server.serve_forever, name="crossbound-metrics", daemon=True)
    thread.start()
    return MetricsServer(server, thread, host)
