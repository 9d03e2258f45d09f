"""Unit tests of crossbound.codec.codec: round trips through the default (single-object) framing, the
header layout, and every DecodeError reason.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from codec_samples import (
    EXPECTED_SUBJECTS,
    SCHEMAS,
    SECRET,
    T0,
    all_samples,
    core_samples,
    payload_samples,
    small_record,
)

from crossbound.codec import MAGIC, Codec, SchemaRegistry
from crossbound.errors import DecodeError


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(SCHEMAS)


@pytest.fixture(scope="module")
def codec(registry: SchemaRegistry) -> Codec:
    return Codec(registry)


def test_quota_records_of_0_1_decode_into_the_current_schema(codec: Codec, registry: SchemaRegistry) -> None:
    from fastavro import schemaless_writer

    old = registry.versions("internal/quota_usage")[0]
    buf = io.BytesIO()
    record = {"windows": {"PCN-03": {"period": 20240, "total": "5"}}, "applied": {}}
    schemaless_writer(buf, old.parsed, record)
    _, decoded = codec.decode(MAGIC + old.fingerprint + buf.getvalue())
    assert decoded == {
        "windows": record["windows"],
        "members": {},
        "replies": None,
        "counted": None,
        "touched_at": 0,
    }
    old_check = registry.versions("internal/quota_check")[0]
    buf = io.BytesIO()
    chk = dict(all_samples(codec)["internal/quota_check"])
    del chk["steps"], chk["new_members"]
    schemaless_writer(buf, old_check.parsed, chk)
    _, decoded = codec.decode(MAGIC + old_check.fingerprint + buf.getvalue())
    assert decoded["steps"] == []
    assert decoded["new_members"] == []


# --------------------------------------------------------------------------------------------------
# Round trips and the header
# --------------------------------------------------------------------------------------------------


def test_samples_cover_every_subject(codec: Codec) -> None:
    assert sorted(all_samples(codec)) == EXPECTED_SUBJECTS


@pytest.mark.parametrize("subject", EXPECTED_SUBJECTS)
def test_round_trip(codec: Codec, registry: SchemaRegistry, subject: str) -> None:
    record = all_samples(codec)[subject]
    data = codec.encode(subject, record)
    version, decoded = codec.decode(data)
    assert version is registry.current(subject)
    assert decoded == record


@pytest.mark.parametrize("subject", EXPECTED_SUBJECTS)
def test_header_layout(codec: Codec, registry: SchemaRegistry, subject: str) -> None:
    data = codec.encode(subject, all_samples(codec)[subject])
    assert data[:2] == b"\xc3\x01" == MAGIC
    assert data[2:10] == registry.current(subject).fingerprint
    assert codec.peek(data) is registry.current(subject)


def test_round_trip_types_of_logical_values(codec: Codec) -> None:
    sample = core_samples(codec)["core/request"]
    _, decoded = codec.decode(codec.encode("core/request", sample))
    assert isinstance(decoded["created_at"], datetime)
    assert decoded["created_at"].utcoffset() == timedelta(0)
    assert decoded["created_at"] == T0
    assert decoded["consent"]["granted_at"] == T0 - timedelta(days=3)
    assert decoded["consent"]["purpose_codes"] == ["CREDIT_APPLICATION", "POST_LOAN"]
    _, payload = codec.decode(decoded["payload"], expected={"scenarios/sb_corporate_credit_report/request"})
    assert payload["report_issued_on"] == date(2025, 5, 20)
    assert type(payload["report_issued_on"]) is date
    assert payload["facility_amount"] == Decimal("1234567.89")
    assert isinstance(payload["facility_amount"], Decimal)


def test_round_trip_non_utc_datetime_keeps_the_instant(codec: Codec) -> None:
    hk = timezone(timedelta(hours=8))
    record = dict(core_samples(codec)["core/verdict"], decided_at=datetime(2025, 6, 1, 20, 0, tzinfo=hk))
    _, decoded = codec.decode(codec.encode("core/verdict", record))
    assert decoded["decided_at"] == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert decoded["decided_at"].utcoffset() == timedelta(0)


def test_round_trip_decimal_exactness(codec: Codec) -> None:
    subject = "scenarios/payment_connect_northbound/request"
    for amount in (Decimal("0.01"), Decimal("10000.00"), Decimal("9999999999999999.99"), Decimal("-12.30")):
        record = dict(payload_samples()[subject], amount_hkd=amount)
        _, decoded = codec.decode(codec.encode(subject, record))
        assert decoded["amount_hkd"] == amount
        assert decoded["amount_hkd"].as_tuple().exponent == -2


def test_decode_with_expected_subject_accepts_it(codec: Codec) -> None:
    data = codec.encode("core/request", core_samples(codec)["core/request"])
    version, _ = codec.decode(data, expected=("core/request",))
    assert version.subject == "core/request"


def test_codec_is_deterministic(codec: Codec) -> None:
    record = core_samples(codec)["core/verdict"]
    assert codec.encode("core/verdict", record) == codec.encode("core/verdict", record)


# --------------------------------------------------------------------------------------------------
# DecodeError reasons
# --------------------------------------------------------------------------------------------------


def _secret_deadletter(codec: Codec) -> bytes:
    record = dict(core_samples(codec)["core/deadletter"], detail=SECRET, crossbound_version=SECRET)
    return codec.encode("core/deadletter", record)


def _assert_no_secret(err: DecodeError) -> None:
    for text in (str(err), repr(err), err.detail, err.reason):
        assert "SECRET" not in text


def test_too_large(registry: SchemaRegistry) -> None:
    small = Codec(registry, max_record_bytes=64)
    data = small.encode("core/attestation", small_record("r" * 80))
    assert len(data) > 64
    with pytest.raises(DecodeError) as err:
        small.decode_input(data)
    assert err.value.reason == "too_large"
    assert err.value.retriable is False


def test_the_limit_is_for_inputs_only(registry: SchemaRegistry) -> None:
    """Records the pipeline writes itself may carry an input whole: decode() reads them at any size."""
    small = Codec(registry, max_record_bytes=64)
    data = small.encode("core/attestation", small_record("r" * 80))
    assert small.decode(data)[1]["request_id"] == "r" * 80
    assert small.peek(data) is registry.current("core/attestation")


def test_too_large_boundary(registry: SchemaRegistry) -> None:
    probe = Codec(registry)
    data = probe.encode("core/attestation", small_record("r-1"))
    _, record = Codec(registry, max_record_bytes=len(data)).decode_input(data)
    assert record["request_id"] == "r-1"
    with pytest.raises(DecodeError) as err:
        Codec(registry, max_record_bytes=len(data) - 1).decode_input(data)
    assert err.value.reason == "too_large"


def test_too_large_is_checked_before_the_header(registry: SchemaRegistry) -> None:
    with pytest.raises(DecodeError) as err:
        Codec(registry, max_record_bytes=10).decode_input(b"hello, world, not avro")
    assert err.value.reason == "too_large"


def test_too_large_message_has_no_payload(registry: SchemaRegistry) -> None:
    probe = Codec(registry)
    data = _secret_deadletter(probe)
    with pytest.raises(DecodeError) as err:
        Codec(registry, max_record_bytes=20).decode_input(data)
    assert err.value.reason == "too_large"
    _assert_no_secret(err.value)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"\xc3",
        b"\xc3\x01",
        b"\xc3\x01\x00\x01\x02\x03\x04\x05\x06",  # one byte short of a full header
        b"\x00\x00\x00\x00\x01\x02hello-confluent-v0",  # Confluent framing: magic 0, 4-byte schema id
        b"\x01" + bytes(16) + b"confluent-v1-guid",  # Confluent V1: 16-byte GUID
        b"\xc3\x02" + bytes(8) + b"\x00",  # wrong single-object version byte
        b"\x01\xc3" + bytes(8) + b"\x00",  # marker bytes swapped
        b"Obj\x01" + bytes(20),  # Avro object container file
        b'{"request_id": "x"}',  # JSON
    ],
    ids=[
        "empty",
        "hello",
        "c3-only",
        "marker-only",
        "short-header",
        "confluent-v0",
        "confluent-v1",
        "version-2",
        "swapped",
        "ocf",
        "json",
    ],
)
def test_bad_magic(codec: Codec, data: bytes) -> None:
    with pytest.raises(DecodeError) as err:
        codec.decode(data)
    assert err.value.reason == "bad_magic"
    with pytest.raises(DecodeError) as err2:
        codec.peek(data)
    assert err2.value.reason == "bad_magic"


def test_bad_magic_message_has_no_payload(codec: Codec) -> None:
    with pytest.raises(DecodeError) as err:
        codec.decode(b"\x00\x00\x00\x00\x01" + SECRET.encode())
    assert err.value.reason == "bad_magic"
    _assert_no_secret(err.value)


def test_unknown_schema(codec: Codec) -> None:
    data = codec.encode("core/attestation", small_record(SECRET))
    unknown_fp = bytes.fromhex("0123456789abcdef")
    assert codec.registry.by_fingerprint(unknown_fp) is None
    forged = MAGIC + unknown_fp + data[10:]
    with pytest.raises(DecodeError) as err:
        codec.decode(forged)
    assert err.value.reason == "unknown_schema"
    _assert_no_secret(err.value)


def test_unknown_schema_big_endian_fingerprint(codec: Codec, registry: SchemaRegistry) -> None:
    # A writer that put the fingerprint big-endian is not recognised: the byte order is part of the format.
    ver = registry.current("core/attestation")
    data = codec.encode("core/attestation", small_record("r"))
    swapped = MAGIC + ver.fingerprint[::-1] + data[10:]
    with pytest.raises(DecodeError) as err:
        codec.decode(swapped)
    assert err.value.reason == "unknown_schema"


def test_wrong_record_type(codec: Codec) -> None:
    verdict = dict(core_samples(codec)["core/verdict"], request_id=SECRET)
    data = codec.encode("core/verdict", verdict)
    with pytest.raises(DecodeError) as err:
        codec.decode(data, expected={"core/request"})
    assert err.value.reason == "wrong_record_type"
    _assert_no_secret(err.value)


def test_wrong_record_type_with_empty_expected(codec: Codec) -> None:
    data = codec.encode("core/attestation", small_record("r"))
    with pytest.raises(DecodeError) as err:
        codec.decode(data, expected=())
    assert err.value.reason == "wrong_record_type"


def test_undecodable_truncated_body(codec: Codec) -> None:
    data = _secret_deadletter(codec)
    for cut in (1, 5, len(SECRET) // 2, len(SECRET) + 1, len(data) - 11):
        with pytest.raises(DecodeError) as err:
            codec.decode(data[:-cut])
        assert err.value.reason == "undecodable", cut
        _assert_no_secret(err.value)


def test_undecodable_header_only(codec: Codec, registry: SchemaRegistry) -> None:
    with pytest.raises(DecodeError) as err:
        codec.decode(MAGIC + registry.current("core/request").fingerprint)
    assert err.value.reason == "undecodable"


@pytest.mark.parametrize("garbage", [b"\x00", b"\x02\x04", SECRET.encode()])
def test_undecodable_trailing_garbage(codec: Codec, garbage: bytes) -> None:
    data = _secret_deadletter(codec)
    with pytest.raises(DecodeError) as err:
        codec.decode(data + garbage)
    assert err.value.reason == "undecodable"
    _assert_no_secret(err.value)


def test_undecodable_bad_enum_index(codec: Codec, registry: SchemaRegistry) -> None:
    # Attestation: request_id "r", scenario_id "s", then enum index 7 (zigzag 0x0e), which Side lacks.
    body = b"\x02r" + b"\x02s" + b"\x0e"
    with pytest.raises(DecodeError) as err:
        codec.decode(MAGIC + registry.current("core/attestation").fingerprint + body)
    assert err.value.reason == "undecodable"


def test_peek_does_not_read_the_body(codec: Codec, registry: SchemaRegistry) -> None:
    ver = registry.current("core/request")
    assert codec.peek(MAGIC + ver.fingerprint + b"\xff\xff") is ver
    with pytest.raises(DecodeError) as err:
        codec.decode(MAGIC + ver.fingerprint + b"\xff\xff")
    assert err.value.reason == "undecodable"
