"""Every field of a consumed record is untrusted, the Kafka metadata included (issue 9, items 2 and 7).

Each input still ends in exactly one verdict or one dead letter: a timestamp outside what a datetime
can hold, a timestamp inside the Avro body far out of range, a zero-length value; a dead letter's
detail never quotes the record's bytes; a dead letter is counted only once it is built; and two Avro
encodings of one request are one request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from crossbound.codec import Codec
from crossbound.pipeline import Incoming
from crossbound.testing import Harness
from crossbound.testing.traffic import Traffic

SB = "sb_corporate_credit_report"


@pytest.fixture
def h() -> Harness:
    return Harness.from_dirs()


def _dead_letters_total(h: Harness) -> float:
    total = 0.0
    for metric in h.registry.collect():
        if metric.name == "crossbound_dead_letters":
            total += sum(s.value for s in metric.samples if s.name == "crossbound_dead_letters_total")
    return total


def _request(h: Harness, kind: str = "invalid", seed: int = 1) -> tuple[bytes, bytes]:
    case = Traffic(seed=seed, now=h.now).case(SB, kind)
    assert case.request is not None
    return h.encode_request(case.request)


@pytest.mark.parametrize(
    "timestamp_ms", [-(2**62), 2**62, -(2**63), 2**63 - 1, -62_135_596_800_001, 253_402_300_800_000, -1]
)
def test_an_unusable_kafka_timestamp_is_dead_lettered_without_it(h: Harness, timestamp_ms: int) -> None:
    rec = Incoming(h.topics.requests("hk"), 0, 0, b"k", b"not avro", timestamp_ms)
    [out] = h.pipeline.handle(rec)
    assert out.topic == h.topics.deadletter("hk")
    record = h.codec.decode(out.value)[1]
    assert record["reason"] == "bad_magic"
    assert record["source_timestamp"] is None  # no usable timestamp: said as "none", not invented
    assert record["failed_at"].timestamp() == h.now  # when it was dead-lettered: the worker's clock


def test_a_usable_kafka_timestamp_is_kept(h: Harness) -> None:
    rec = Incoming(h.topics.requests("hk"), 0, 0, b"k", b"not avro", 253_402_300_799_999)
    [out] = h.pipeline.handle(rec)
    assert h.codec.decode(out.value)[1]["source_timestamp"].year == 9999


def test_a_kafka_timestamp_out_of_range_still_gets_its_verdict(h: Harness) -> None:
    key, value = _request(h)
    [out] = h.pipeline.handle(Incoming(h.topics.requests("hk"), 0, 0, key, value, 2**62))
    assert out.topic == h.topics.verdicts("hk")


def _with_created_at(h: Harness, created_at_ms: int) -> tuple[bytes, bytes]:
    key, value = _request(h)
    record: Mapping[str, Any] = h.codec.decode(value)[1]
    raw = dict(record, created_at=created_at_ms)  # fastavro writes an int as the raw long
    return key, h.codec.encode("core/request", raw)


@pytest.mark.parametrize("created_at_ms", [2**62, -(2**62)])
def test_an_avro_timestamp_out_of_range_is_undecodable(h: Harness, created_at_ms: int) -> None:
    key, value = _with_created_at(h, created_at_ms)
    [out] = h.send(h.topics.requests("hk"), key, value)
    assert out.topic == h.topics.deadletter("hk")
    assert out.record["reason"] == "undecodable"


@pytest.mark.parametrize("value", [b"", None])
def test_a_zero_length_value_is_empty(h: Harness, value: bytes | None) -> None:
    [out] = h.send(h.topics.requests("hk"), b"k", value)
    assert out.record["reason"] == "empty"
    [att] = h.send(h.topics.attestations("sz"), b"k", value)
    assert att.record["reason"] == "empty"


def test_an_unknown_fingerprint_is_not_quoted(h: Harness) -> None:
    fingerprint = b"HK123456"  # eight bytes a producer chose: they may be anything
    [out] = h.send(h.topics.requests("hk"), b"k", b"\xc3\x01" + fingerprint + b"body")
    assert out.record["reason"] == "unknown_schema"
    detail = out.record["detail"]
    assert fingerprint.hex() not in detail
    assert "HK123456" not in detail


class DeadLetterFails(Codec):
    """A codec that cannot encode dead letters."""

    def encode(self, subject: str, record: Mapping[str, Any]) -> bytes:
        if subject == "core/deadletter":
            raise RuntimeError("injected")
        return super().encode(subject, record)


def test_a_dead_letter_is_counted_only_once_built(h: Harness) -> None:
    h.codec = DeadLetterFails(h.codec.registry)
    h.restart()
    with pytest.raises(RuntimeError, match="injected"):
        h.send(h.topics.requests("hk"), b"k", b"not avro")
    assert _dead_letters_total(h) == 0


def _non_canonical(value: bytes) -> bytes:
    """The same request, its first varint (the request_id's length) written with a redundant byte."""
    length = value[10]
    assert length < 0x80  # one byte in the canonical form
    return value[:10] + bytes([length | 0x80, 0x00]) + value[11:]


def test_non_canonical_encodings_of_one_request_are_the_same_request(h: Harness) -> None:
    key, value = _request(h)
    other = _non_canonical(value)
    assert other != value
    assert h.codec.decode(other)[1] == h.codec.decode(value)[1]
    h.send(h.topics.requests("hk"), key, value)
    [dup] = h.send(h.topics.requests("hk"), key, other)
    assert dup.record["reason"] == "duplicate_request"


def test_a_dead_letter_of_a_huge_key_fits_what_the_worker_may_produce(h: Harness) -> None:
    """A Kafka key is not bounded by the input limit: a dead letter copying it whole (as its own key
    and in its body) outgrew the producer's request size (4 x the limit) and crashed the worker's agent.

    The worst case at the smallest limit: a request at the limit whose ids fill it (the dead letter
    repeats them) and a key of a megabyte.
    """
    _, value = _request(h, "late")
    request: dict[str, Any] = dict(h.codec.decode(value)[1])
    request["request_id"] += "x" * (1024 - 20 - len(value))  # about 20 bytes to spare
    value = h.codec.encode("core/request", request)
    small = Harness(Codec(h.codec.registry, max_record_bytes=len(value)), h.catalogue)
    assert len(value) <= 1024
    huge = b"k" * 1_000_000
    [out] = small.send(small.topics.requests("hk"), huge, value)
    # the id breaks the uuid form (a dead letter then repeats no id) or the key: either refusal must fit
    assert out.record["reason"] in ("bad_key", "bad_form")
    assert request["request_id"].startswith(out.record["request_id"] or "")
    assert out.key == out.record["key"] == huge[:256]
    assert len(out.key) + len(out.value) <= 4 * 1024 - 600  # room for headers, topic names, framing
    assert out.record["value"] == value


def test_a_dead_letter_of_a_request_with_a_huge_id_fits_the_broker(h: Harness) -> None:
    """The ids a dead letter repeats beside the value that holds them are cut short: a request at the
    1 MB limit whose id fills most of it made a dead letter of 1.6 MB, over Kafka's default 1 MiB.
    """
    _, value = _request(h, "late")
    request: dict[str, Any] = dict(h.codec.decode(value)[1])
    request["request_id"] += "x" * 600_000
    request["scenario_id"] += "y" * 300_000
    value = h.codec.encode("core/request", request)
    assert len(value) <= h.codec.max_record_bytes
    [out] = h.send(h.topics.requests("hk"), b"another key", value)
    assert out.record["reason"] in ("bad_key", "unknown_scenario", "bad_form")
    assert out.record["value"] == value  # the original bytes, whole
    assert request["request_id"].startswith(out.record["request_id"] or "")
    assert len(out.record["request_id"] or "") <= 128
    assert len(out.value) < len(value) + 4096  # under Kafka's 1 MiB + 12 for a value at the 1 MB limit
