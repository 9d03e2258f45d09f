"""The generated Avro writers write fastavro's bytes, for generated records of every shipped schema."""

from __future__ import annotations

from typing import Any

import pytest
from codec_values import answer_one_attested_request, values
from fastavro import parse_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossbound.codec import Codec, SchemaRegistry
from crossbound.codec.writercode import compile_writer, zigzag
from crossbound.testing import Harness

CODEC = Harness.from_dirs().codec
REGISTRY: SchemaRegistry = CODEC.registry
SUBJECTS = sorted(REGISTRY.subjects)


@pytest.mark.parametrize("subject", SUBJECTS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_generated_writer_writes_fastavros_bytes(subject: str, data: st.DataObject) -> None:
    version = REGISTRY.current(subject)
    record = data.draw(values(version.parsed, version.parsed["__named_schemas"]))
    assert CODEC.encode(subject, record) == CODEC.encode_with(version, record)


def test_every_shipped_schema_has_a_generated_writer() -> None:
    assert all(compile_writer(REGISTRY.current(s).parsed) is not None for s in SUBJECTS)


def test_an_attested_request_is_answered_without_fastavros_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> None:
        raise AssertionError("fastavro's writer was called")

    monkeypatch.setattr("crossbound.codec.codec.schemaless_writer", refuse)
    answer_one_attested_request(CODEC)


@pytest.mark.parametrize(
    "field",
    [
        {"name": "a", "type": ["string", "long"]},  # the branch depends on the value's type
        {"name": "a", "type": ["null", "string", "long"]},
        {"name": "a", "type": ["null", "Node"]},  # recursive
    ],
)
def test_a_schema_it_cannot_write_is_left_to_fastavro(field: dict[str, Any]) -> None:
    schema = parse_schema({"type": "record", "name": "Node", "fields": [field]})
    assert compile_writer(schema) is None


def test_zigzag_is_avros_long() -> None:
    assert [zigzag(n) for n in (0, -1, 1, -64, 64, 2**63 - 1)] == [
        b"\x00",
        b"\x01",
        b"\x02",
        b"\x7f",
        b"\x80\x01",
        b"\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    ]


def test_a_missing_field_without_a_default_is_refused_as_by_fastavro() -> None:
    version = REGISTRY.current("core/verdict")
    record = {"request_id": "r"}
    with pytest.raises(KeyError):  # fastavro raises ValueError: the type differs, not the refusal
        CODEC.encode("core/verdict", record)
    with pytest.raises(ValueError, match="no value and no default"):
        CODEC.encode_with(version, record)


def test_an_unknown_subject_is_refused_as_before() -> None:
    with pytest.raises(Exception, match="no such schema subject"):
        Codec(REGISTRY).encode("core/nothing", {})
