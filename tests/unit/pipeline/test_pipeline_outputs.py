"""The records the pipeline produces: what a dead letter keeps of the record it is for."""

from __future__ import annotations

import pytest

from crossbound.pipeline.outputs import DLQ_KEEP_BYTES
from crossbound.testing import Harness


@pytest.fixture(scope="module")
def h() -> Harness:
    return Harness.from_dirs()


def test_a_record_over_the_size_limit_keeps_its_first_64_kib(h: Harness) -> None:
    assert DLQ_KEEP_BYTES == 64 * 1024
    raw = bytes(range(256)) * (h.codec.max_record_bytes // 256 + 1)  # just over the limit
    [dl] = h.send(h.topics.requests("hk"), b"big", raw)
    assert dl.topic == h.topics.deadletter("hk")
    assert dl.record["reason"] == "too_large"
    assert dl.record["value"] == raw[: 64 * 1024]
    assert dl.record["value_size"] == len(raw)
    assert len(dl.value) < 70 * 1024  # the dead letter itself stays small


def test_a_record_within_the_limit_is_kept_whole(h: Harness) -> None:
    raw = b"\x00" * (100 * 1024)  # not Avro, larger than what a cut would keep, within the limit
    [dl] = h.send(h.topics.requests("sz"), b"odd", raw)
    assert dl.record["reason"] == "bad_magic"
    assert dl.record["value"] == raw
    assert dl.record["value_size"] == len(raw)
    assert dict(dl.headers) == {"crossbound.reason": b"bad_magic", "crossbound.source": b"sz.requests"}
