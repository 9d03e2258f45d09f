"""The worker's Faust speed-ups: on by default, each left at Faust's default by name, unknown ones refused."""

from __future__ import annotations

import os
from typing import Any

import pytest
from faust.sensors.monitor import Monitor
from prometheus_client import CollectorRegistry

from crossbound.errors import ConfigError
from crossbound.metrics import Metrics
from crossbound.runtime.app import FAUST_SPEEDUPS, QuietMonitor, build_app, faust_speedups
from crossbound.runtime.worker import load_components
from crossbound.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CROSSBOUND_"):
            monkeypatch.delenv(name)


def _app(settings: Settings) -> Any:
    return build_app(settings, load_components(settings), Metrics(CollectorRegistry()), "127.0.0.1:1")


def test_every_speedup_is_on_by_default() -> None:
    app = _app(Settings(pipeline={"app_id": "cbspeed"}))
    assert isinstance(app.monitor, QuietMonitor)


def test_faust_stock_leaves_each_named_setting_at_fausts_default() -> None:
    app = _app(Settings(pipeline={"app_id": "cbstock"}, kafka={"faust_stock": sorted(FAUST_SPEEDUPS)}))
    assert type(app.monitor) is Monitor


def test_faust_stock_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSBOUND_KAFKA__FAUST_STOCK", '["quiet_monitor"]')
    stock = Settings().kafka.faust_stock
    assert stock == frozenset({"quiet_monitor"})
    assert faust_speedups(stock) == {}
    assert faust_speedups(frozenset()) == {"Monitor": QuietMonitor}


def test_an_unknown_speedup_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(
        ConfigError,
        match=r"no Faust speed-up: quiet_monitr; known: quiet_monitor, direct_delivery, direct_take, "
        r"direct_buffer",
    ):
        faust_speedups(frozenset({"quiet_monitr"}))


def test_quiet_monitor_keeps_no_per_event_state_but_the_stalled_stream_stamp() -> None:
    monitor = QuietMonitor()
    monitor.on_message_in(None, 1, None)
    assert monitor.on_stream_event_in("tp0", 1, None, None) is None
    # read by faust's aiokafka driver (verify_event_path): no stamp means "stream idle since start"
    assert set(monitor.stream_inbound_time) == {"tp0"}
    monitor.on_table_set(None, b"k", b"v")
    monitor.on_send_completed(None, monitor.on_send_initiated(None, "t", None, 1, 1), None)
    assert (monitor.messages_received_total, monitor.events_total, monitor.messages_sent) == (0, 0, 0)
    assert not monitor.tables
