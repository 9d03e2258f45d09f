"""The generated Avro readers read what fastavro reads, and refuse what it refuses, on every shipped schema.

Each input is compared through :meth:`Codec.decode` (the generated reader, its end offset checked)
against fastavro's ``schemaless_reader`` with the same end check: both refuse, or both return the same
record (compared by ``repr``: the same keys in the same order, the same types, ``Decimal('1.0')`` is not
``Decimal('1.00')``). The one allowance is a refusal of the generated reader's own,
:class:`StricterThanFastavro`, for the inputs fastavro reads as garbage (tested below one by one).
"""

from __future__ import annotations

import tracemalloc
from io import BytesIO
from typing import Any

import pytest
from codec_samples import internal_samples
from codec_values import answer_one_attested_request, values
from fastavro import parse_schema, schemaless_reader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossbound.codec import SchemaRegistry
from crossbound.codec.readercode import StricterThanFastavro, compile_reader, read_long
from crossbound.codec.writercode import zigzag
from crossbound.errors import DecodeError
from crossbound.testing import Harness

CODEC = Harness.from_dirs().codec
REGISTRY: SchemaRegistry = CODEC.registry
SUBJECTS = sorted(REGISTRY.subjects)
HEADER = CODEC.framing.header_len
REFUSED = "<refused>"
STRICTER = "<refused, stricter than fastavro>"
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HUGE = [2**31, 2**62, 2**63 - 1, -(2**63), -(2**62), 10**9, 64, -1]
OVERLONG = [b"\x80" * 10 + b"\x01", b"\xff" * 11 + b"\x00", b"\x81" * 12 + b"\x7f"]
BAD_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82"]


def by_fastavro(data: bytes) -> Any:
    version = CODEC.peek(data)
    body = BytesIO(data)
    body.seek(HEADER)
    try:
        record = schemaless_reader(body, version.parsed, None)
    except Exception:
        return REFUSED
    return record if body.tell() == len(data) else REFUSED


def by_codec(data: bytes) -> Any:
    try:
        return CODEC.decode(data)[1]
    except DecodeError as exc:
        if exc.reason != "undecodable":
            raise
        return STRICTER if isinstance(exc.__cause__, StricterThanFastavro) else REFUSED


def assert_read_alike(data: bytes) -> Any:
    mine = by_codec(data)
    if mine is not STRICTER:
        assert repr(mine) == repr(by_fastavro(data))
    return mine


def encoded(subject: str, data: st.DataObject) -> bytes:
    """A generated record of ``subject``, written by fastavro."""
    version = REGISTRY.current(subject)
    record = data.draw(values(version.parsed, version.parsed["__named_schemas"]))
    return CODEC.encode_with(version, record)


@pytest.mark.parametrize("subject", SUBJECTS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_valid_record_reads_as_fastavro_reads_it(subject: str, data: st.DataObject) -> None:
    value = encoded(subject, data)
    mine = CODEC.decode(value)[1]
    assert repr(mine) == repr(by_fastavro(value))


@pytest.mark.parametrize("subject", SUBJECTS)
@SETTINGS
@given(body=st.binary(max_size=300))
def test_random_bytes_read_alike(subject: str, body: bytes) -> None:
    assert_read_alike(CODEC.framing.header(REGISTRY.current(subject)) + body)


@pytest.mark.parametrize("subject", SUBJECTS)
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_truncation_reads_alike(subject: str, data: st.DataObject) -> None:
    value = encoded(subject, data)
    for cut in range(HEADER, len(value)):
        assert assert_read_alike(value[:cut]) == REFUSED  # Avro's encoding is prefix-free


BYTE = st.integers(0, 255).map(lambda b: bytes([b]))
FORGED = st.one_of(
    st.sampled_from(HUGE).map(zigzag),
    st.integers(-(2**63), 2**63 - 1).map(zigzag),
    st.sampled_from(OVERLONG),
    st.sampled_from(BAD_UTF8),
)


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize(
    ("edits", "forge"),
    [
        pytest.param(8, BYTE, id="single-byte-mutations"),
        pytest.param(6, FORGED, id="forged-lengths-overlong-varints-bad-utf8"),
    ],
)
@SETTINGS
@given(data=st.data())
def test_edited_bytes_read_alike(
    subject: str, edits: int, forge: st.SearchStrategy[bytes], data: st.DataObject
) -> None:
    value = encoded(subject, data)
    for _ in range(edits):
        at = data.draw(st.integers(HEADER, len(value) - 1))
        forged = data.draw(forge)
        replaced = data.draw(st.sampled_from([1, len(forged)]))  # a varint in place of one, or overwritten
        assert_read_alike(value[:at] + forged + value[at + replaced :])


@given(body=st.lists(st.integers(0x80, 0xFF), max_size=9).map(bytes), last=st.integers(0, 0x7F))
@settings(max_examples=300, deadline=None)
def test_read_long_is_fastavros_long_for_every_varint_up_to_10_bytes(body: bytes, last: int) -> None:
    data = body + bytes([last])
    schema = parse_schema({"type": "long"})
    assert read_long(data, 0) == (schemaless_reader(BytesIO(data), schema, None), len(data))


def test_every_shipped_schema_has_a_generated_reader() -> None:
    assert all(compile_reader(REGISTRY.current(s).parsed) is not None for s in SUBJECTS)


def test_an_attested_request_is_answered_without_fastavros_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> None:
        raise AssertionError("fastavro's reader was called")

    monkeypatch.setattr("crossbound.codec.codec.schemaless_reader", refuse)
    answer_one_attested_request(CODEC)


def test_an_older_version_is_still_read_into_the_current_one_by_fastavro(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Any] = []

    def spy(body: BytesIO, writer: Any, reader: Any) -> Any:
        calls.append(reader)
        return schemaless_reader(body, writer, reader)

    monkeypatch.setattr("crossbound.codec.codec.schemaless_reader", spy)
    [old, *_] = REGISTRY.versions("internal/quota_check")
    current = REGISTRY.current("internal/quota_check")
    assert old is not current
    record = {"request_id": "r", "quota_key": "k", "request": b"", "findings": []}
    record |= {"attested": {}, "source_topic": "t", "source_partition": 0}
    version, decoded = CODEC.decode(CODEC.encode_with(old, record))
    assert version is old
    assert calls == [current.parsed]
    assert decoded["request_id"] == "r"


@pytest.mark.parametrize(
    "field",
    [
        {"name": "a", "type": ["string", "long"]},  # the branch's reader depends on the index alone: fine,
        {"name": "a", "type": ["null", "string", "long"]},  # but the generator keeps to null + one type
        {"name": "a", "type": ["null", "Node"]},  # recursive
        {"name": "a", "type": {"type": "array", "items": "null"}},  # a count no input length bounds
        {"name": "a", "type": {"type": "array", "items": {"type": "record", "name": "E", "fields": []}}},
    ],
)
def test_a_schema_it_cannot_read_is_left_to_fastavro(field: dict[str, Any]) -> None:
    schema = parse_schema({"type": "record", "name": "Node", "fields": [field]})
    assert compile_reader(schema) is None


def test_a_reader_schema_other_than_the_writers_is_left_to_fastavro() -> None:
    old, current = REGISTRY.versions("internal/quota_check")[0], REGISTRY.current("internal/quota_check")
    assert compile_reader(old.parsed, current.parsed) is None
    assert compile_reader(current.parsed, current.parsed) is not None


def _record(*types: Any) -> Any:
    return parse_schema(
        {"type": "record", "name": "R", "fields": [{"name": f"f{i}", "type": t} for i, t in enumerate(types)]}
    )


ENUM = {"type": "enum", "name": "E", "symbols": ["X", "Y", "Z"]}
LONGS = {"type": "array", "items": "long"}
STRINGS = {"type": "map", "values": "string"}
TIMESTAMP = {"type": "long", "logicalType": "timestamp-millis"}
DECIMAL = {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}

ODD_BUT_ACCEPTED = [
    pytest.param(_record("boolean"), b"\x02", id="any non-zero byte is true"),
    pytest.param(_record("long"), b"\x82\x80\x00", id="a varint not the shortest"),
    pytest.param(_record("long"), b"\xff" * 9 + b"\x7f", id="a 10-byte varint's bits past 64 dropped"),
    pytest.param(_record("int"), zigzag(2**40), id="an int beyond 32 bits"),
    pytest.param(_record(LONGS), b"\x03\x04\x02\x04\x00", id="a negative block count and its size"),
    pytest.param(_record(STRINGS), b"\x04\x02a\x02x\x02a\x02y\x00", id="a repeated map key: the last"),
    pytest.param(_record(["null", "string"]), b"\x82\x00\x02h", id="a union index not the shortest"),
    pytest.param(_record(DECIMAL), b"\x06\x7f\xff\xff", id="a decimal past its precision, rounded"),
]


@pytest.mark.parametrize(("schema", "body"), ODD_BUT_ACCEPTED)
def test_odd_inputs_fastavro_accepts_read_alike(schema: Any, body: bytes) -> None:
    reader = compile_reader(schema)
    assert reader is not None
    record, end = reader(body, 0)
    fo = BytesIO(body)
    assert repr(record) == repr(schemaless_reader(fo, schema, None))
    assert end == fo.tell() == len(body)


STRICTER_CASES = [
    pytest.param(_record("long"), b"\x80" * 10 + b"\x01", id="a varint of 11 bytes"),
    pytest.param(_record(["null", "string"]), b"\x01\x02h", id="union index -1 (fastavro: the last)"),
    pytest.param(_record(ENUM), b"\x01", id="enum index -1 (fastavro: the last symbol)"),
    pytest.param(_record(LONGS), zigzag(-(2**63)) + b"\x00\x00", id="block count -2**63 (fastavro: none)"),
]


@pytest.mark.parametrize(("schema", "body"), STRICTER_CASES)
def test_inputs_fastavro_reads_as_garbage_are_refused(schema: Any, body: bytes) -> None:
    fo = BytesIO(body)
    schemaless_reader(fo, schema, None)  # fastavro takes it, and reads all of it
    assert fo.tell() == len(body)
    reader = compile_reader(schema)
    assert reader is not None
    with pytest.raises(StricterThanFastavro):
        reader(body, 0)


SHARED_REFUSALS = [
    pytest.param(_record("string"), b"\x04\xc3\x28", id="bad UTF-8"),
    pytest.param(_record("string"), b"\x06\xed\xa0\x80", id="an encoded surrogate"),
    pytest.param(_record("bytes"), b"\x01", id="a negative length"),
    pytest.param(_record("bytes"), b"\x0aabc", id="a length past the end"),
    pytest.param(_record("long"), b"\x80\x80", id="a truncated varint"),
    pytest.param(_record(["null", "string"]), b"\x04", id="union index past the last branch"),
    pytest.param(_record(ENUM), b"\x06", id="enum index past the last symbol"),
    pytest.param(_record(ENUM), b"\x07", id="enum index -4"),
    pytest.param(_record(TIMESTAMP), zigzag(2**62), id="a timestamp out of range"),
    pytest.param(_record(LONGS), b"\x04\x02", id="an array cut short"),
    pytest.param(_record(STRINGS), b"\x02\x02a", id="a map cut short"),
    pytest.param(_record({"type": "fixed", "name": "F", "size": 4}), b"abc", id="a fixed cut short"),
    pytest.param(_record("double"), b"\x00" * 7, id="a double cut short"),
]


@pytest.mark.parametrize(("schema", "body"), SHARED_REFUSALS)
def test_inputs_fastavro_refuses_are_refused(schema: Any, body: bytes) -> None:
    with pytest.raises(Exception):  # noqa: B017, PT011  fastavro's types vary: the refusal is the point
        schemaless_reader(BytesIO(body), schema, None)
    reader = compile_reader(schema)
    assert reader is not None
    with pytest.raises(Exception) as caught:  # noqa: PT011
        reader(body, 0)
    assert not isinstance(caught.value, StricterThanFastavro)


@pytest.mark.parametrize(
    "schema",
    [_record("bytes"), _record("string"), _record(LONGS), _record(STRINGS), _record(DECIMAL)],
)
@pytest.mark.parametrize("count", [2**62, 2**63 - 1, 10**9])
def test_a_forged_length_or_count_is_refused_before_anything_is_allocated(schema: Any, count: int) -> None:
    reader = compile_reader(schema)
    assert reader is not None
    body = zigzag(count) + b"\x02" * 32
    tracemalloc.start()
    try:
        with pytest.raises(EOFError):
            reader(body, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64_000


def test_an_overlong_varint_in_an_input_is_undecodable() -> None:
    version = REGISTRY.current("core/attestation")
    body = b"\x80" * 10 + b"\x01"  # the request_id's length
    with pytest.raises(DecodeError) as caught:
        CODEC.decode_input(CODEC.framing.header(version) + body)
    assert caught.value.reason == "undecodable"
    assert isinstance(caught.value.__cause__, StricterThanFastavro)
    assert "\\x80" not in str(caught.value)


def test_a_memoryview_reads_as_its_bytes() -> None:
    value = CODEC.encode("internal/answered_request", internal_samples(CODEC)["internal/answered_request"])
    record = CODEC.decode(memoryview(value))[1]  # type: ignore[arg-type]  # what a caller might hand on
    assert record == CODEC.decode(value)[1]
    assert type(record["output_key"]) is bytes
