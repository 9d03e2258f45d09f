"""benchmarks/cpushare.py: two CPU samples turned into cores, shares of the machine, and the table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("cpushare", ROOT / "benchmarks" / "cpushare.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("cpushare", module)  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


cs = _module()


def _sample(at: float, workers: dict[int, float], broker: float, generator: float, machine: float) -> Any:
    return cs.Sample(at, {"workers": workers, "broker": {7: broker}, "generator": {9: generator}}, machine)


FIRST = _sample(100.0, {11: 5.0, 12: 1.0}, broker=40.0, generator=3.0, machine=1000.0)
#: 4 s later: the workers used 2.4 and 1.6 CPU seconds, the broker 2, the generator 0.8, the machine 7.6
LAST = _sample(104.0, {11: 7.4, 12: 2.6}, broker=42.0, generator=3.8, machine=1007.6)


def _row(engine: str, kind: str, workers: int, rate: float, first: Any = FIRST, last: Any = LAST) -> Any:
    return cs.Row(engine, kind, workers, 1000, rate, cs.usage(first, last, 2))


def test_cores_are_cpu_seconds_over_the_window_per_process_and_group() -> None:
    u = cs.usage(FIRST, LAST, 2)
    assert u.seconds == pytest.approx(4.0)
    assert u.per_process["workers"] == pytest.approx([0.6, 0.4])
    assert u.cores("workers") == pytest.approx(1.0)
    assert u.cores("broker") == pytest.approx(0.5)
    assert u.cores("generator") == pytest.approx(0.2)
    assert u.machine == pytest.approx(1.9)
    assert u.ours == pytest.approx(1.7)
    assert u.others == pytest.approx(0.2)
    assert u.share(u.cores("broker")) == pytest.approx(0.25)
    assert u.saturated  # 1.9 busy of 2 cores is 95 %


def test_a_machine_under_90_percent_busy_has_headroom_and_others_never_go_below_zero() -> None:
    # the machine's busy seconds rounded below the processes' own: "others" 0, not negative
    last = _sample(104.0, {11: 7.4, 12: 2.6}, broker=42.0, generator=3.8, machine=1006.0)
    u = cs.usage(FIRST, last, 2)
    assert u.machine == pytest.approx(1.5)
    assert u.others == 0.0
    assert not u.saturated


def test_a_window_that_is_not_positive_or_a_process_missing_at_its_end_is_refused() -> None:
    with pytest.raises(ValueError, match="window must be positive"):
        cs.usage(FIRST, FIRST, 2)
    gone = _sample(104.0, {11: 7.4}, broker=42.0, generator=3.8, machine=1007.6)
    with pytest.raises(ValueError, match=r"workers process\(es\) \[12\]"):
        cs.usage(FIRST, gone, 2)


def test_the_planning_figure_is_verdicts_per_second_over_the_workers_cores() -> None:
    row = _row("kafka", "attested", 2, 450.0)
    assert row.per_worker_core == pytest.approx(450.0)  # the workers used 1.0 core
    assert row.describe() == (
        "2 workers: 450 verdicts/s, workers 1.00, broker 0.50, generator 0.20, others 0.20, "
        "machine 1.90 of 2 cores: saturated"
    )
    fig = row.figures()
    assert fig["shares"]["workers"] == pytest.approx(0.5)
    assert fig["cores"]["machine"] == pytest.approx(1.9)
    assert fig["worker_cores_each"] == [0.6, 0.4]
    assert fig["verdicts_per_s_per_worker_core"] == pytest.approx(450.0)


def test_the_table_gives_the_speedup_over_one_worker_of_the_same_engine_and_kind() -> None:
    rows = [
        _row("kafka", "request_only", 1, 400.0),
        _row("kafka", "request_only", 2, 600.0),
        _row("tansu", "request_only", 2, 700.0),  # no one-worker row of its own: no speed-up
    ]
    lines = cs.table(rows).splitlines()
    assert len(lines) == 5
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    assert all(len(c) == len(cells[0]) for c in cells)
    assert cells[2][:6] == ["kafka", "request-only", "1", "400", "1.00x", "1.00 (0.60 0.40)"]
    assert cells[3][3:5] == ["600", "1.50x"]
    assert cells[4][4] == ""
    assert cells[3][-3:] == ["1.90 of 2", "600", "saturated"]
    assert cs.per_worker_core(rows) == {
        "kafka": {"request_only": {"1": 400.0, "2": 600.0}},
        "tansu": {"request_only": {"2": 700.0}},
    }
