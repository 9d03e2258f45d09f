"""Unit tests of crossbound.codec.framing: the single-object header, and the seam a second wire format
plugs into (a test-local Confluent-style framing, ``00`` + a 4-byte big-endian schema id).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from codec_samples import EXPECTED_SUBJECTS, SCHEMAS, all_samples, small_record

from crossbound.codec import MAGIC, Codec, Framing, SchemaRegistry, SchemaVersion, SingleObjectFraming
from crossbound.errors import DecodeError, SchemaError


class IdFraming:
    """Confluent's wire format, for the test: ``00``, then the schema id as a 4-byte big-endian int."""

    header_len = 5

    def __init__(self, ids: dict[bytes, int]) -> None:
        self.ids = ids  # schema id per fingerprint, as a schema registry service would assign them

    def header(self, version: SchemaVersion) -> bytes:
        return b"\x00" + self.key(version)

    def key(self, version: SchemaVersion) -> bytes:
        return struct.pack(">I", self.ids[version.fingerprint])

    def peek(self, data: bytes) -> bytes:
        if len(data) < self.header_len or data[0] != 0:
            raise DecodeError("bad_magic", "not Confluent framing (expected 00 and a schema id)")
        return data[1:5]


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(SCHEMAS)


@pytest.fixture(scope="module")
def id_codec(registry: SchemaRegistry) -> Codec:
    versions = [v for s in registry.subjects for v in registry.versions(s)]
    framing: Framing = IdFraming({v.fingerprint: 100 + i for i, v in enumerate(versions)})
    return Codec(registry, framing=framing)


def test_single_object_header_is_magic_and_fingerprint() -> None:
    ver = SchemaVersion("s", 1, Path("s.v1.avsc"), {}, None, bytes(range(8)))
    framing = SingleObjectFraming()
    assert framing.header(ver) == b"\xc3\x01\x00\x01\x02\x03\x04\x05\x06\x07"
    assert framing.header_len == len(framing.header(ver)) == 10
    assert framing.peek(framing.header(ver) + b"body") == framing.key(ver) == bytes(range(8))


def test_the_default_framing_is_single_object(registry: SchemaRegistry) -> None:
    record = small_record("r-1")
    explicit = Codec(registry, framing=SingleObjectFraming())
    data = Codec(registry).encode("core/attestation", record)
    assert data == explicit.encode("core/attestation", record)
    assert data.startswith(MAGIC + registry.current("core/attestation").fingerprint)


@pytest.mark.parametrize("subject", EXPECTED_SUBJECTS)
def test_round_trip_through_another_framing(id_codec: Codec, registry: SchemaRegistry, subject: str) -> None:
    # all_samples builds nested payloads with the default codec: they are opaque bytes here
    record = all_samples(Codec(registry))[subject]
    data = id_codec.encode(subject, record)
    assert data[0] == 0
    assert data[1:5] == id_codec.framing.key(registry.current(subject))
    version, decoded = id_codec.decode(data)
    assert version is registry.current(subject)
    assert decoded == record
    assert id_codec.peek(data) is version


def test_another_framing_has_its_own_decode_errors(id_codec: Codec, registry: SchemaRegistry) -> None:
    single = Codec(registry).encode("core/attestation", small_record("r-1"))
    with pytest.raises(DecodeError) as err:
        id_codec.decode(single)  # a single-object record is not Confluent-framed
    assert err.value.reason == "bad_magic"
    with pytest.raises(DecodeError) as err:
        id_codec.decode(b"\x00" + struct.pack(">I", 99) + b"\x02r")
    assert err.value.reason == "unknown_schema"
    assert err.value.detail == "the header names no schema this registry knows"  # not the id read
    framed = id_codec.encode("core/attestation", small_record("r-1"))
    with pytest.raises(DecodeError) as err:
        id_codec.decode(framed + b"\x00")
    assert err.value.reason == "undecodable"


def test_old_versions_are_read_into_the_current_one_through_another_framing(
    id_codec: Codec, registry: SchemaRegistry
) -> None:
    old = registry.versions("internal/quota_usage")[0]
    record = {"windows": {"PCN-03": {"period": 20240, "total": "5"}}, "applied": {}}
    writer, decoded = id_codec.decode(id_codec.encode_with(old, record))
    assert writer is old
    assert decoded == {
        "windows": record["windows"],
        "members": {},
        "replies": None,
        "counted": None,
        "touched_at": 0,
    }


def test_two_versions_with_one_framing_key_fail(registry: SchemaRegistry) -> None:
    same = IdFraming({v.fingerprint: 7 for s in registry.subjects for v in registry.versions(s)})
    with pytest.raises(SchemaError) as err:
        Codec(registry, framing=same)
    assert "same framing key" in err.value.fault
