"""Unit tests of crossbound.codec: the schema repository (every shipped .avsc, fingerprints, evolution
rules, field classes) and the single-object wire codec (header layout, round trips, DecodeError reasons).

Fingerprints are checked three ways: against the Avro spec's test vectors (docs/peers.md 1.8), against
an independent pure-Python CRC-64-AVRO written here from the spec, and against fastavro's own
``fingerprint`` of the Parsing Canonical Form.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from crossbound.codec import FIELD_CLASSES, MAGIC, Codec, SchemaRegistry, SchemaVersion
from crossbound.errors import ConfigError, DecodeError, SchemaError

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"

EXPECTED_SUBJECTS = [
    "core/attestation",
    "core/attestation_request",
    "core/deadletter",
    "core/request",
    "core/verdict",
    "internal/answered_request",
    "internal/pending_request",
    "internal/quota_check",
    "internal/quota_usage",
    "scenarios/nb_hk_resident_consumer_credit/attestation",
    "scenarios/nb_hk_resident_consumer_credit/request",
    "scenarios/payment_connect_northbound/attestation",
    "scenarios/payment_connect_northbound/request",
    "scenarios/sb_corporate_credit_report/attestation",
    "scenarios/sb_corporate_credit_report/request",
]

SECRET = "SECRET-VALUE-123"


# --------------------------------------------------------------------------------------------------
# Independent CRC-64-AVRO (Avro spec, "Schema Fingerprints")
# --------------------------------------------------------------------------------------------------

_EMPTY = 0xC15D213AA4D7A795


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _crc_table()


def crc64_avro(data: bytes) -> int:
    """The Rabin fingerprint of the spec, as an unsigned 64-bit integer."""
    fp = _EMPTY
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


def as_signed(fp: int) -> int:
    value: int = struct.unpack("<q", fp.to_bytes(8, "little"))[0]
    return value


# Spec test vectors as signed int64 (docs/peers.md section 1.8).
SPEC_VECTORS: list[tuple[Any, int]] = [
    ("null", 7195948357588979594),
    ("boolean", -6970731678124411036),
    ({"name": "foo", "type": "fixed", "size": 15}, 1756455273707447556),
]


# --------------------------------------------------------------------------------------------------
# Fixtures and realistic records
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(SCHEMAS)


@pytest.fixture(scope="module")
def codec(registry: SchemaRegistry) -> Codec:
    return Codec(registry)


T0 = datetime(2025, 6, 1, 3, 4, 5, 123000, tzinfo=UTC)
HEX_A = "3f" * 32
HEX_B = "0c" * 32
HEX_C = "a1" * 32
LEI = {"scheme": "LEI", "id": "5493001KJTIIGC8Y1R12", "city": None}
USCC_INST = {"scheme": "USCC", "id": "91440300123456788M", "city": "440300"}
BIC_INST = {"scheme": "BIC", "id": "BKCHHKHHXXX", "city": "HK"}


def payload_samples() -> dict[str, dict[str, Any]]:
    return {
        "scenarios/sb_corporate_credit_report/request": {
            "subject_uscc": "91350100M000100Y43",
            "report_type": "FULL",
            "report_issued_on": date(2025, 5, 20),
            "purpose": "CREDIT_APPLICATION",
            "facility_ccy": "HKD",
            "facility_amount": Decimal("1234567.89"),
            "report_digest": HEX_A,
            "legal_rep_id_hmac": HEX_B,
        },
        "scenarios/sb_corporate_credit_report/attestation": {
            "report_digest": HEX_A,
            "legal_rep_id_hmac": HEX_B,
            "entity_status": "ABNORMAL_OPERATION_LIST",
        },
        "scenarios/nb_hk_resident_consumer_credit/request": {
            "requested_limit_cny": Decimal("250000.00"),
            "work_city_code": "440300",
            "purpose": "CROSS_BORDER_CREDIT_APPLICATION",
            "hkid_hmac": HEX_A,
            "residence_permit_hmac": None,
            "credit_report_digest": HEX_C,
        },
        "scenarios/nb_hk_resident_consumer_credit/attestation": {
            "hkid_hmac": HEX_A,
            "credit_report_digest": HEX_C,
            "hkid_valid": True,
            "residence_permit_valid": None,
            "no_bankruptcy_flag": True,
            "delinquency_band": "D30",
        },
        "scenarios/payment_connect_northbound/request": {
            "amount_hkd": Decimal("9999.99"),
            "purpose": "EDUCATION",
            "same_name": False,
            "payer_hkid_holder": True,
            "payer_hkid_hmac": HEX_A,
            "payee_acct_hmac": HEX_B,
            "payee_name_hmac": HEX_C,
        },
        "scenarios/payment_connect_northbound/attestation": {
            "payee_acct_hmac": HEX_B,
            "payee_name_match": "PARTIAL",
        },
    }


def core_samples(codec: Codec) -> dict[str, dict[str, Any]]:
    payloads = payload_samples()
    inner = codec.encode(
        "scenarios/sb_corporate_credit_report/request",
        payloads["scenarios/sb_corporate_credit_report/request"],
    )
    inner_att = codec.encode(
        "scenarios/sb_corporate_credit_report/attestation",
        payloads["scenarios/sb_corporate_credit_report/attestation"],
    )
    return {
        "core/request": {
            "request_id": "0f5c2a4e-7f43-4d3b-9a43-2b8f5d0c9e11",
            "scenario_id": "sb_corporate_credit_report",
            "scenario_version": "1.0.0",
            "requester_side": "HK",
            "attester_side": "SZ",
            "requester_inst": BIC_INST,
            "attester_inst": USCC_INST,
            "created_at": T0,
            "expires_at": T0 + timedelta(hours=1),
            "digest_alg": "SM3",
            "hmac_key_id": "pair-hk-sz-2025-06",
            "nonce": "9f86d081884c7d659a2feaa0c55ad015",
            "consent": {
                "consent_id": "c-2025-000123",
                "subject_ref_hmac": HEX_C,
                "purpose_codes": ["CREDIT_APPLICATION", "POST_LOAN"],
                "recipient_inst": BIC_INST,
                "pi_categories": ["CREDIT_REPORT", "LEGAL_REP_ID"],
                "separate_xb_consent": True,
                "granted_at": T0 - timedelta(days=3),
                "expires_at": T0 + timedelta(days=362),
                "withdrawn": False,
                "legal_basis": "CONSENT",
            },
            "payload": inner,
        },
        "core/attestation": {
            "request_id": "0f5c2a4e-7f43-4d3b-9a43-2b8f5d0c9e11",
            "scenario_id": "sb_corporate_credit_report",
            "attester_side": "SZ",
            "attester_inst": USCC_INST,
            "attested_at": T0 + timedelta(seconds=2, milliseconds=250),
            "status": "FOUND",
            "payload": inner_att,
        },
        "core/attestation_request": {
            "request_id": "0f5c2a4e-7f43-4d3b-9a43-2b8f5d0c9e11",
            "scenario_id": "sb_corporate_credit_report",
            "ruleset_version": "1.0.0",
            "requester_side": "HK",
            "attester_side": "SZ",
            "requester_inst": BIC_INST,
            "attester_inst": USCC_INST,
            "request_created_at": T0,
            "deadline": T0 + timedelta(seconds=30),
            "digest_alg": "SHA256",
            "hmac_key_id": "pair-hk-sz-2025-06",
            "nonce": "9f86d081884c7d659a2feaa0c55ad015",
            "consent_id": "c-2025-000123",
            "payload": inner,
        },
        "core/verdict": {
            "request_id": "0f5c2a4e-7f43-4d3b-9a43-2b8f5d0c9e11",
            "scenario_id": "sb_corporate_credit_report",
            "ruleset_version": "1.0.0",
            "requester_side": "HK",
            "attester_side": "SZ",
            "outcome": "REVIEW",
            "findings": [
                {
                    "rule_id": "SBCCR-07",
                    "severity": "REVIEW",
                    "field": "attestation.entity_status",
                    "code": "ENTITY_STATUS",
                },
                {
                    "rule_id": "SBCCR-09",
                    "severity": "WARN",
                    "field": "payload.facility_ccy",
                    "code": "CNH_NORMALISED",
                },
            ],
            "attested": {"entity_status": "ABNORMAL_OPERATION_LIST"},
            "request_created_at": T0,
            "decided_at": T0 + timedelta(seconds=3),
            "crossbound_version": "0.1.0",
        },
        "core/deadletter": {
            "reason": "undecodable",
            "detail": "body does not decode as core/request v1",
            "source_topic": "hk.requests",
            "source_partition": 3,
            "source_offset": 123456789012,
            "source_timestamp": T0,
            "key": b"0f5c2a4e",
            "value": b"\xc3\x01\x00garbage",
            "value_size": 11,
            "request_id": None,
            "scenario_id": None,
            "failed_at": T0 + timedelta(milliseconds=1),
            "crossbound_version": "0.1.0",
        },
    }


def small_record(request_id: str) -> dict[str, Any]:
    """A small core/attestation record (status NOT_FOUND, no payload)."""
    return {
        "request_id": request_id,
        "scenario_id": "sb_corporate_credit_report",
        "attester_side": "SZ",
        "attester_inst": {"scheme": "USCC", "id": "91440300123456788M", "city": "440300"},
        "attested_at": datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
        "status": "NOT_FOUND",
        "payload": None,
    }


def internal_samples(codec: Codec) -> dict[str, dict[str, Any]]:
    request_value = codec.encode("core/request", core_samples(codec)["core/request"])
    stored = [
        {"rule_id": "SBCCR-09", "severity": "WARN", "field": "payload.facility_ccy", "code": "CNH_NORMALISED"}
    ]
    return {
        "internal/pending_request": {
            "request": request_value,
            "body_sha256": bytes(range(32)),
            "source_topic": "hk.requests",
            "source_partition": 2,
            "source_offset": 77,
            "received_at": 1_790_000_000_000,
            "deadline": 1_790_000_030_000,
            "scenario_id": "sb_corporate_credit_report",
            "findings": stored,
        },
        "internal/quota_check": {
            "request_id": "r-1",
            "quota_key": HEX_A,
            "steps": [{"index": 0, "key": HEX_A}, {"index": 2, "key": "pipl|LEI:X"}],
            "new_members": ["pipl"],
            "request": request_value,
            "findings": stored,
            "attested": {"payee_name_match": "FULL"},
            "source_topic": "sz.attestations",
            "source_partition": 5,
        },
        "internal/quota_usage": {
            "windows": {
                "PCN-03": {"period": 20240, "total": "9999.99"},
                "PCN-04": {"period": 2025, "total": "15000"},
            },
            "members": {"ECNY-07": [HEX_A, HEX_B]},
            "applied": {
                "r-1": {
                    "day": 20240,
                    "partition": 3,
                    "verdict": b"\xc3\x01verdict",
                    "topic": "hk.verdicts",
                    "key": b"r-1",
                }
            },
            "recent": ["r-0"],
        },
        "internal/answered_request": {
            "body_sha256": bytes(range(32)),
            "source_topic": "hk.requests",
            "source_partition": 2,
            "source_offset": 41,
            "attestation_partition": -1,
            "attestation_offset": -1,
            "output_topic": "hk.verdicts",
            "output_partition": 2,
            "output_key": b"r-1",
            "output_value": b"\xc3\x01verdict",
        },
    }


def all_samples(codec: Codec) -> dict[str, dict[str, Any]]:
    return {**payload_samples(), **core_samples(codec), **internal_samples(codec)}


# --------------------------------------------------------------------------------------------------
# The shipped schemas
# --------------------------------------------------------------------------------------------------


def test_every_shipped_schema_file_is_loaded(registry: SchemaRegistry) -> None:
    files = sorted(SCHEMAS.rglob("*.avsc"))
    assert files, "no schema files found"
    loaded = sorted(v.path.resolve() for s in registry.subjects for v in registry.versions(s))
    assert loaded == [f.resolve() for f in files]


TWO_VERSIONS = {"internal/quota_check", "internal/quota_usage"}  # 0.2: stateful steps


def test_subjects_are_as_expected(registry: SchemaRegistry) -> None:
    scenarios = sorted(p.stem for p in (SCHEMAS.parent / "rulesets").glob("*.toml") if p.stem != "envelope")
    every = [s for s in EXPECTED_SUBJECTS if not s.startswith("scenarios/")] + [
        f"scenarios/{sid}/{kind}" for sid in scenarios for kind in ("attestation", "request")
    ]
    assert registry.subjects == sorted(every)
    for subject in every:
        versions = registry.versions(subject)
        n = 2 if subject in TWO_VERSIONS else 1
        assert [v.version for v in versions] == list(range(1, n + 1))
        assert registry.current(subject) is versions[-1]
        assert versions[0].subject == subject
        assert versions[0].path.name == f"{subject.rsplit('/', 1)[1]}.v1.avsc"


def test_quota_records_of_0_1_decode_into_the_current_schema(codec: Codec, registry: SchemaRegistry) -> None:
    from fastavro import schemaless_writer

    old = registry.versions("internal/quota_usage")[0]
    buf = io.BytesIO()
    record = {"windows": {"PCN-03": {"period": 20240, "total": "5"}}, "applied": {}}
    schemaless_writer(buf, old.parsed, record)
    _, decoded = codec.decode(old.header + buf.getvalue())
    assert decoded == {**record, "members": {}, "recent": []}
    old_check = registry.versions("internal/quota_check")[0]
    buf = io.BytesIO()
    chk = dict(all_samples(codec)["internal/quota_check"])
    del chk["steps"], chk["new_members"]
    schemaless_writer(buf, old_check.parsed, chk)
    _, decoded = codec.decode(old_check.header + buf.getvalue())
    assert decoded["steps"] == []
    assert decoded["new_members"] == []


def test_unknown_subject_is_a_schema_error(registry: SchemaRegistry) -> None:
    with pytest.raises(SchemaError) as err:
        registry.current("core/nope")
    assert err.value.path == "core/nope"
    assert registry.versions("core/nope") == []


def test_field_classes_only_for_scenario_payloads(registry: SchemaRegistry) -> None:
    for subject in registry.subjects:
        ver = registry.current(subject)
        if subject.startswith("scenarios/"):
            names = [f["name"] for f in ver.raw["fields"]]
            assert list(ver.field_classes) == names
            assert set(ver.field_classes.values()) <= set(FIELD_CLASSES)
        else:
            assert dict(ver.field_classes) == {}


def test_shipped_field_classes_spot_checks(registry: SchemaRegistry) -> None:
    sb = registry.current("scenarios/sb_corporate_credit_report/request").field_classes
    assert sb["subject_uscc"] == "C"
    assert sb["report_digest"] == "D"
    assert sb["legal_rep_id_hmac"] == "D"
    pcn = registry.current("scenarios/payment_connect_northbound/request").field_classes
    assert pcn["payer_hkid_holder"] == "B"
    assert pcn["payer_hkid_hmac"] == "D"
    nb = registry.current("scenarios/nb_hk_resident_consumer_credit/attestation").field_classes
    assert nb["residence_permit_valid"] == "B"
    assert nb["delinquency_band"] == "B"


@pytest.mark.parametrize(("schema", "signed"), SPEC_VECTORS, ids=["null", "boolean", "fixed"])
def test_spec_vectors_independent_crc(schema: Any, signed: int) -> None:
    canonical = to_parsing_canonical_form(parse_schema(schema))
    assert as_signed(crc64_avro(canonical.encode())) == signed


@pytest.mark.parametrize(("schema", "signed"), SPEC_VECTORS, ids=["null", "boolean", "fixed"])
def test_spec_vectors_fastavro_hex_is_little_endian(schema: Any, signed: int) -> None:
    canonical = to_parsing_canonical_form(parse_schema(schema))
    # The header carries the LE bytes of the signed int64 vector; fastavro's hex is exactly those bytes.
    assert bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")) == struct.pack("<q", signed)
    assert bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")) != struct.pack(">q", signed)


def test_spec_vector_null_bytes_literally() -> None:
    # 7195948357588979594 == 0x63dd24e7cc258f8a: little-endian on the wire starts with 8a.
    assert struct.pack("<q", 7195948357588979594) == bytes.fromhex("8a8f25cce724dd63")
    assert crc64_avro(b'"null"').to_bytes(8, "little") == bytes.fromhex("8a8f25cce724dd63")


@pytest.mark.parametrize("subject", EXPECTED_SUBJECTS)
def test_real_schema_fingerprints_match_independent_computation(
    registry: SchemaRegistry, subject: str
) -> None:
    ver = registry.current(subject)
    raw = json.loads(ver.path.read_text(encoding="utf-8"))
    canonical = to_parsing_canonical_form(parse_schema(raw, named_schemas={}))
    expected = crc64_avro(canonical.encode("utf-8")).to_bytes(8, "little")
    assert ver.fingerprint == expected
    assert ver.fingerprint == bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    assert len(ver.fingerprint) == 8
    assert ver.header == b"\xc3\x01" + expected


def test_fingerprints_are_unique_and_indexed(registry: SchemaRegistry) -> None:
    versions = [registry.current(s) for s in registry.subjects]
    assert len({v.fingerprint for v in versions}) == len(versions)
    for v in versions:
        assert registry.by_fingerprint(v.fingerprint) is v
    assert registry.by_fingerprint(b"\x00" * 8) is None


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
        small.decode(data)
    assert err.value.reason == "too_large"
    assert err.value.retriable is False


def test_too_large_boundary(registry: SchemaRegistry) -> None:
    probe = Codec(registry)
    data = probe.encode("core/attestation", small_record("r-1"))
    _, record = Codec(registry, max_record_bytes=len(data)).decode(data)
    assert record["request_id"] == "r-1"
    with pytest.raises(DecodeError) as err:
        Codec(registry, max_record_bytes=len(data) - 1).decode(data)
    assert err.value.reason == "too_large"


def test_too_large_is_checked_before_the_header(registry: SchemaRegistry) -> None:
    with pytest.raises(DecodeError) as err:
        Codec(registry, max_record_bytes=10).decode(b"hello, world, not avro")
    assert err.value.reason == "too_large"


def test_too_large_message_has_no_payload(registry: SchemaRegistry) -> None:
    probe = Codec(registry)
    data = _secret_deadletter(probe)
    with pytest.raises(DecodeError) as err:
        Codec(registry, max_record_bytes=20).decode(data)
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
        codec.decode(registry.current("core/request").header)
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
        codec.decode(registry.current("core/attestation").header + body)
    assert err.value.reason == "undecodable"


def test_peek_does_not_read_the_body(codec: Codec, registry: SchemaRegistry) -> None:
    ver = registry.current("core/request")
    assert codec.peek(ver.header + b"\xff\xff") is ver
    with pytest.raises(DecodeError) as err:
        codec.decode(ver.header + b"\xff\xff")
    assert err.value.reason == "undecodable"


# --------------------------------------------------------------------------------------------------
# Schema evolution and bad schema files (temporary schema directories)
# --------------------------------------------------------------------------------------------------


def _write(root: Path, rel: str, schema: dict[str, Any] | str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema if isinstance(schema, str) else json.dumps(schema), encoding="utf-8")
    return path


def _payment(*extra: dict[str, Any], name: str = "Pay") -> dict[str, Any]:
    fields: list[dict[str, Any]] = [
        {
            "name": "amount_hkd",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2},
            "class": "C",
        },
        {"name": "payer_hmac", "type": "string", "class": "D"},
    ]
    return {"type": "record", "name": name, "namespace": "t.scenarios", "fields": [*fields, *extra]}


SUBJECT = "scenarios/demo/request"


def test_evolution_added_field_with_default(tmp_path: Path) -> None:
    _write(tmp_path, "scenarios/demo/request.v1.avsc", _payment())
    _write(
        tmp_path,
        "scenarios/demo/request.v2.avsc",
        _payment(
            {"name": "channel", "type": "string", "default": "FPS", "class": "C"},
            {"name": "flagged", "type": ["null", "boolean"], "default": None, "class": "B"},
        ),
    )
    registry = SchemaRegistry.load(tmp_path)
    codec = Codec(registry)
    v1, v2 = registry.versions(SUBJECT)
    assert (v1.version, v2.version) == (1, 2)
    assert registry.current(SUBJECT) is v2
    assert v1.fingerprint != v2.fingerprint

    old = Codec.encode_with(v1, {"amount_hkd": Decimal("12.50"), "payer_hmac": HEX_A})
    assert old[2:10] == v1.fingerprint
    writer, record = codec.decode(old)
    assert writer is v1
    assert record == {"amount_hkd": Decimal("12.50"), "payer_hmac": HEX_A, "channel": "FPS", "flagged": None}

    new = codec.encode(
        SUBJECT, {"amount_hkd": Decimal("1.00"), "payer_hmac": HEX_B, "channel": "IBPS", "flagged": True}
    )
    assert new[2:10] == v2.fingerprint
    writer, record = codec.decode(new)
    assert writer is v2
    assert record["channel"] == "IBPS"
    assert record["flagged"] is True


def test_evolution_added_field_without_default_fails(tmp_path: Path) -> None:
    _write(tmp_path, "scenarios/demo/request.v1.avsc", _payment())
    v2 = _write(
        tmp_path,
        "scenarios/demo/request.v2.avsc",
        _payment({"name": "channel", "type": "string", "class": "C"}),
    )
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(v2)
    assert "request.v2.avsc" in str(err.value)
    assert isinstance(err.value, ConfigError)


def test_evolution_removed_field_is_fine(tmp_path: Path) -> None:
    # Removing a field is backward compatible: the reader ignores it in old records.
    _write(
        tmp_path, "scenarios/demo/request.v1.avsc", _payment({"name": "note", "type": "string", "class": "C"})
    )
    _write(tmp_path, "scenarios/demo/request.v2.avsc", _payment())
    registry = SchemaRegistry.load(tmp_path)
    v1 = registry.versions(SUBJECT)[0]
    old = Codec.encode_with(v1, {"amount_hkd": Decimal("3.00"), "payer_hmac": HEX_A, "note": SECRET})
    _, record = Codec(registry).decode(old)
    assert record == {"amount_hkd": Decimal("3.00"), "payer_hmac": HEX_A}


def test_evolution_type_change_fails(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "core/thing.v1.avsc",
        {"type": "record", "name": "Thing", "fields": [{"name": "n", "type": "string"}]},
    )
    v2 = _write(
        tmp_path,
        "core/thing.v2.avsc",
        {"type": "record", "name": "Thing", "fields": [{"name": "n", "type": "int"}]},
    )
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(v2)


def test_evolution_record_rename_fails(tmp_path: Path) -> None:
    _write(tmp_path, "scenarios/demo/request.v1.avsc", _payment())
    v2 = _write(
        tmp_path,
        "scenarios/demo/request.v2.avsc",
        _payment({"name": "x", "type": "string", "default": "", "class": "C"}, name="Payment"),
    )
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(v2)


def test_version_gap_fails(tmp_path: Path) -> None:
    _write(tmp_path, "scenarios/demo/request.v1.avsc", _payment())
    v3 = _write(
        tmp_path,
        "scenarios/demo/request.v3.avsc",
        _payment({"name": "channel", "type": "string", "default": "FPS", "class": "C"}),
    )
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(v3)


def test_version_must_start_at_one(tmp_path: Path) -> None:
    v2 = _write(tmp_path, "scenarios/demo/request.v2.avsc", _payment())
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(v2)


@pytest.mark.parametrize(
    "name",
    [
        "Request.v1.avsc",
        "request.v0.avsc",
        "request.avsc",
        "request.v1.1.avsc",
        "request-x.v1.avsc",
        "request.V1.avsc",
        "1request.v1.avsc",
    ],
)
def test_bad_file_name(tmp_path: Path, name: str) -> None:
    bad = _write(tmp_path, f"scenarios/demo/{name}", _payment())
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)
    assert name in str(err.value)


def test_invalid_json(tmp_path: Path) -> None:
    _write(tmp_path, "core/fine.v1.avsc", {"type": "record", "name": "Fine", "fields": []})
    bad = _write(tmp_path, "core/broken.v1.avsc", '{"type": "record", "name": "Broken", "fields": [')
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)
    assert str(bad) in str(err.value)


def test_top_level_must_be_a_record(tmp_path: Path) -> None:
    bad = _write(tmp_path, "core/thing.v1.avsc", {"type": "enum", "name": "E", "symbols": ["A"]})
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)


def test_invalid_avro_schema(tmp_path: Path) -> None:
    bad = _write(
        tmp_path,
        "core/thing.v1.avsc",
        {"type": "record", "name": "Thing", "fields": [{"name": "x", "type": "no_such_type"}]},
    )
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)


def test_scenario_field_without_class(tmp_path: Path) -> None:
    bad = _write(
        tmp_path, "scenarios/demo/request.v1.avsc", _payment({"name": "payee_city_code", "type": "string"})
    )
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)
    assert "payee_city_code" in err.value.fault  # naming the field is the contract


def test_scenario_field_with_unknown_class(tmp_path: Path) -> None:
    bad = _write(
        tmp_path,
        "scenarios/demo/request.v1.avsc",
        _payment({"name": "payee_city_code", "type": "string", "class": "X"}),
    )
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)
    assert "payee_city_code" in err.value.fault


def test_class_d_on_boolean(tmp_path: Path) -> None:
    bad = _write(
        tmp_path,
        "scenarios/demo/attestation.v1.avsc",
        _payment({"name": "is_holder", "type": "boolean", "class": "D"}),
    )
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)
    assert "is_holder" in err.value.fault


def test_class_b_on_string(tmp_path: Path) -> None:
    bad = _write(
        tmp_path,
        "scenarios/demo/attestation.v1.avsc",
        _payment({"name": "name_in_clear", "type": "string", "class": "B"}),
    )
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)
    assert "name_in_clear" in err.value.fault


def test_class_d_on_optional_string_and_string_array_is_fine(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "scenarios/demo/request.v1.avsc",
        _payment(
            {"name": "permit_hmac", "type": ["null", "string"], "default": None, "class": "D"},
            {"name": "doc_digests", "type": {"type": "array", "items": "string"}, "class": "D"},
            {"name": "band", "type": "int", "class": "B"},
        ),
    )
    classes = SchemaRegistry.load(tmp_path).current(SUBJECT).field_classes
    assert classes["permit_hmac"] == "D"
    assert classes["doc_digests"] == "D"
    assert classes["band"] == "B"


def test_class_d_on_array_of_ints(tmp_path: Path) -> None:
    bad = _write(
        tmp_path,
        "scenarios/demo/request.v1.avsc",
        _payment({"name": "raw_amounts", "type": {"type": "array", "items": "int"}, "class": "D"}),
    )
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)


def test_non_scenario_schemas_need_no_class(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "core/thing.v1.avsc",
        {"type": "record", "name": "Thing", "fields": [{"name": "n", "type": "int"}]},
    )
    ver = SchemaRegistry.load(tmp_path).current("core/thing")
    assert dict(ver.field_classes) == {}


def test_top_level_file_subject_has_no_directory(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "thing.v1.avsc",
        {"type": "record", "name": "Thing", "fields": [{"name": "n", "type": "int"}]},
    )
    assert SchemaRegistry.load(tmp_path).subjects == ["thing"]


def test_identical_schemas_in_two_subjects_fail(tmp_path: Path) -> None:
    schema = {"type": "record", "name": "Same", "fields": [{"name": "n", "type": "int"}]}
    _write(tmp_path, "core/a.v1.avsc", schema)
    _write(tmp_path, "core/b.v1.avsc", schema)
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path.endswith("b.v1.avsc")


def test_missing_or_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path / "nope")
    assert err.value.path == str(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SchemaError) as err2:
        SchemaRegistry.load(tmp_path / "empty")
    assert err2.value.path == str(tmp_path / "empty")


def test_copy_of_real_schemas_with_a_new_version_round_trips(tmp_path: Path) -> None:
    # A realistic evolution of a shipped payload: v2 of the Payment Connect request adds an optional field.
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    subject = "scenarios/payment_connect_northbound/request"
    raw = json.loads((root / f"{subject}.v1.avsc").read_text(encoding="utf-8"))
    raw["fields"].append(
        {"name": "fps_proxy_hmac", "type": ["null", "string"], "default": None, "class": "D"}
    )
    _write(root, f"{subject}.v2.avsc", raw)
    registry = SchemaRegistry.load(root)
    codec = Codec(registry)
    v1 = registry.versions(subject)[0]
    record = payload_samples()[subject]
    writer, decoded = codec.decode(Codec.encode_with(v1, record))
    assert writer is v1
    assert decoded == {**record, "fps_proxy_hmac": None}
    assert registry.current(subject).version == 2
    assert registry.current(subject).field_classes["fps_proxy_hmac"] == "D"


def test_schema_version_header_property() -> None:
    ver = SchemaVersion("s", 1, Path("s.v1.avsc"), {}, None, bytes(range(8)))
    assert ver.header == b"\xc3\x01\x00\x01\x02\x03\x04\x05\x06\x07"
