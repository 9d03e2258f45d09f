"""The worker's debug-only hop times: off unless asked, and nothing but coordinates and times."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from crossbound.runtime.hoptimes import ENV, HopTimes, hop_times_from_env


def _event(topic: str, partition: int, offset: int) -> SimpleNamespace:
    return SimpleNamespace(
        message=SimpleNamespace(topic=topic, partition=partition, offset=offset, value=b"x")
    )


def test_off_unless_the_setting_names_a_file(tmp_path: Path) -> None:
    assert hop_times_from_env({}) is None
    assert hop_times_from_env({ENV: ""}) is None
    stamps = hop_times_from_env({ENV: str(tmp_path / "t.txt")})
    assert isinstance(stamps, HopTimes)


def test_one_line_per_event_with_its_coordinates_and_times(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    stamps = HopTimes(str(path))
    stamps.batch([_event("hk.requests", 2, 7), _event("sz.requests", 0, 9)], 10.0, [10.5, 10.75], 11.0)
    stamps.close()
    lines = path.read_text().splitlines()
    assert lines == [
        "E hk.requests 2 7 10.000000 10.500000 11.000000 2",
        "E sz.requests 0 9 10.000000 10.750000 11.000000 2",
    ]


def test_stream_processor_stamps_the_event_and_passes_its_value_on(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    stamps = HopTimes(str(path))
    stream = SimpleNamespace(current_event=_event("hk.attestations", 1, 42))
    assert stamps.processor(stream)(b"value") == b"value"
    stamps.close()  # the consumer's lines are written out with the rest
    (line,) = path.read_text().splitlines()
    kind, topic, partition, offset, when = line.split()
    assert (kind, topic, partition, offset) == ("P", "hk.attestations", "1", "42")
    assert float(when) > 0
    assert "value" not in line


def test_a_garbage_collection_is_stamped_with_its_pause_and_generation(tmp_path: Path) -> None:
    import gc

    path = tmp_path / "t.txt"
    stamps = HopTimes(str(path))
    before = list(gc.callbacks)
    stamps.install_gc_stamps()
    try:
        gc.collect(1)
    finally:
        gc.callbacks[:] = before
    stamps.close()
    (line,) = path.read_text().splitlines()
    kind, _, took, generation = line.split()
    assert (kind, generation) == ("C", "1")
    assert 0 <= float(took) < 10
