"""Unit tests of crossbound.codec.registry: every shipped .avsc, fingerprints, evolution rules, field
classes and bad schema files.

Fingerprints are checked three ways: against the Avro spec's test vectors (docs/peers.md 1.8), against
an independent pure-Python CRC-64-AVRO written here from the spec, and against fastavro's own
``fingerprint`` of the Parsing Canonical Form.
"""

from __future__ import annotations

import json
import shutil
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from codec_samples import EXPECTED_SUBJECTS, HEX_A, HEX_B, SCHEMAS, SECRET, payload_samples
from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from crossbound.codec import FIELD_CLASSES, Codec, SchemaRegistry, SingleObjectFraming
from crossbound.errors import ConfigError, SchemaError
from crossbound.rules.loader import read_header

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


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(SCHEMAS)


# --------------------------------------------------------------------------------------------------
# The shipped schemas
# --------------------------------------------------------------------------------------------------


def test_every_shipped_schema_file_is_loaded(registry: SchemaRegistry) -> None:
    files = sorted(SCHEMAS.rglob("*.avsc"))
    assert files, "no schema files found"
    loaded = sorted(v.path.resolve() for s in registry.subjects for v in registry.versions(s))
    assert loaded == [f.resolve() for f in files]


VERSIONS = {  # 0.2: stateful steps; 0.3: bounded; ledger references under the requester's own key
    "internal/quota_check": 2,
    "internal/quota_usage": 3,
    **{
        f"scenarios/{sid}/request": 2
        for sid in (
            "ecny_crossboundary_wallet",
            "gd_scheme_residence_attestation",
            "payment_connect_northbound",
            "payment_connect_southbound",
            "wmc_remittance_quota",
        )
    },
}


def test_subjects_are_as_expected(registry: SchemaRegistry) -> None:
    scenarios = sorted(  # a fingerprint-mode scenario reads its live sibling's request schema
        p.stem
        for p in (SCHEMAS.parent / "rulesets").glob("*.toml")
        if p.stem != "envelope" and read_header(p).fingerprint is None
    )
    every = [s for s in EXPECTED_SUBJECTS if not s.startswith("scenarios/")] + [
        f"scenarios/{sid}/{kind}" for sid in scenarios for kind in ("attestation", "request")
    ]
    assert registry.subjects == sorted(every)
    for subject in every:
        versions = registry.versions(subject)
        n = VERSIONS.get(subject, 1)
        assert [v.version for v in versions] == list(range(1, n + 1))
        assert registry.current(subject) is versions[-1]
        assert versions[0].subject == subject
        assert versions[0].path.name == f"{subject.rsplit('/', 1)[1]}.v1.avsc"


def test_unknown_subject_is_a_schema_error(registry: SchemaRegistry) -> None:
    with pytest.raises(SchemaError) as err:
        registry.current("core/nope")
    assert err.value.path == "core/nope"
    assert registry.versions("core/nope") == []


def test_field_classes_only_for_scenario_payloads(registry: SchemaRegistry) -> None:
    """And for the registry record, which fingerprint-mode rules read as their attestation."""
    for subject in registry.subjects:
        ver = registry.current(subject)
        if subject.startswith("scenarios/") or subject == "core/fingerprint":
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
    assert SingleObjectFraming().header(ver) == b"\xc3\x01" + expected


def test_fingerprints_are_unique_and_indexed(registry: SchemaRegistry) -> None:
    versions = [registry.current(s) for s in registry.subjects]
    assert len({v.fingerprint for v in versions}) == len(versions)
    for v in versions:
        assert registry.by_fingerprint(v.fingerprint) is v
    assert registry.by_fingerprint(b"\x00" * 8) is None


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
            {"name": "channel", "type": "string", "default": "FPS", "class": "C", "form": "code"},
            {"name": "flagged", "type": ["null", "boolean"], "default": None, "class": "B"},
        ),
    )
    registry = SchemaRegistry.load(tmp_path)
    codec = Codec(registry)
    v1, v2 = registry.versions(SUBJECT)
    assert (v1.version, v2.version) == (1, 2)
    assert registry.current(SUBJECT) is v2
    assert v1.fingerprint != v2.fingerprint

    old = codec.encode_with(v1, {"amount_hkd": Decimal("12.50"), "payer_hmac": HEX_A})
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


_THING_V1 = {"type": "record", "name": "Thing", "fields": [{"name": "n", "type": "string"}]}
_THING_INT = {"type": "record", "name": "Thing", "fields": [{"name": "n", "type": "int"}]}
_CHANNEL = {"name": "channel", "type": "string", "default": "FPS", "class": "C", "form": "code"}


@pytest.mark.parametrize(
    "files",
    [
        [
            ("scenarios/demo/request.v1.avsc", _payment()),
            (
                "scenarios/demo/request.v2.avsc",
                _payment({"name": "channel", "type": "string", "class": "C", "form": "code"}),
            ),
        ],
        [("core/thing.v1.avsc", _THING_V1), ("core/thing.v2.avsc", _THING_INT)],
        [
            ("scenarios/demo/request.v1.avsc", _payment()),
            (
                "scenarios/demo/request.v2.avsc",
                _payment(
                    {"name": "x", "type": "string", "default": "", "class": "C", "form": "code"},
                    name="Payment",
                ),
            ),
        ],
        [
            ("scenarios/demo/request.v1.avsc", _payment()),
            ("scenarios/demo/request.v3.avsc", _payment(_CHANNEL)),
        ],
        [("scenarios/demo/request.v2.avsc", _payment())],
    ],
    ids=["added-field-without-default", "type-change", "record-rename", "version-gap", "not-from-one"],
)
def test_incompatible_versions_fail_on_the_newest_file(
    tmp_path: Path, files: list[tuple[str, dict[str, Any]]]
) -> None:
    paths = [_write(tmp_path, rel, schema) for rel, schema in files]
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(paths[-1])
    assert paths[-1].name in str(err.value)
    assert isinstance(err.value, ConfigError)


def test_evolution_removed_field_is_fine(tmp_path: Path) -> None:
    # Removing a field is backward compatible: the reader ignores it in old records.
    _write(
        tmp_path,
        "scenarios/demo/request.v1.avsc",
        _payment({"name": "note", "type": "string", "class": "C", "form": "code"}),
    )
    _write(tmp_path, "scenarios/demo/request.v2.avsc", _payment())
    registry = SchemaRegistry.load(tmp_path)
    v1 = registry.versions(SUBJECT)[0]
    codec = Codec(registry)
    old = codec.encode_with(v1, {"amount_hkd": Decimal("3.00"), "payer_hmac": HEX_A, "note": SECRET})
    _, record = codec.decode(old)
    assert record == {"amount_hkd": Decimal("3.00"), "payer_hmac": HEX_A}


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


@pytest.mark.parametrize(
    "schema",
    [
        '{"type": "record", "name": "Broken", "fields": [',
        {"type": "enum", "name": "E", "symbols": ["A"]},
        {"type": "record", "name": "Thing", "fields": [{"name": "x", "type": "no_such_type"}]},
    ],
    ids=["invalid-json", "not-a-record", "invalid-avro"],
)
def test_unreadable_schema_file_is_named(tmp_path: Path, schema: dict[str, Any] | str) -> None:
    _write(tmp_path, "core/fine.v1.avsc", {"type": "record", "name": "Fine", "fields": []})
    bad = _write(tmp_path, "core/broken.v1.avsc", schema)
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)
    assert str(bad) in str(err.value)


@pytest.mark.parametrize(
    ("file", "field"),
    [
        ("request", {"name": "payee_city_code", "type": "string"}),
        ("request", {"name": "payee_city_code", "type": "string", "class": "X"}),
        ("attestation", {"name": "is_holder", "type": "boolean", "class": "D"}),
        ("attestation", {"name": "name_in_clear", "type": "string", "class": "B"}),
        ("request", {"name": "raw_amounts", "type": {"type": "array", "items": "int"}, "class": "D"}),
    ],
    ids=["no-class", "unknown-class", "d-on-boolean", "b-on-string", "d-on-int-array"],
)
def test_bad_field_class_names_the_field(tmp_path: Path, file: str, field: dict[str, Any]) -> None:
    bad = _write(tmp_path, f"scenarios/demo/{file}.v1.avsc", _payment(field))
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)
    assert field["name"] in err.value.fault  # naming the field is the contract


def test_class_d_on_optional_string_and_string_array_is_fine(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "scenarios/demo/request.v1.avsc",
        _payment(
            {"name": "permit_hmac", "type": ["null", "string"], "default": None, "class": "D"},
            {"name": "doc_digests", "type": {"type": "array", "items": "string"}, "class": "D"},
            {"name": "band", "type": "int", "class": "B", "range": [0, 9]},
        ),
    )
    classes = SchemaRegistry.load(tmp_path).current(SUBJECT).field_classes
    assert classes["permit_hmac"] == "D"
    assert classes["doc_digests"] == "D"
    assert classes["band"] == "B"


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
    # A realistic evolution of a shipped payload: v3 of the Payment Connect request adds an optional field.
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    subject = "scenarios/payment_connect_northbound/request"
    raw = json.loads((root / f"{subject}.v2.avsc").read_text(encoding="utf-8"))
    raw["fields"].append(
        {"name": "fps_proxy_hmac", "type": ["null", "string"], "default": None, "class": "D"}
    )
    _write(root, f"{subject}.v3.avsc", raw)
    registry = SchemaRegistry.load(root)
    codec = Codec(registry)
    v2 = registry.versions(subject)[1]
    record = payload_samples()[subject]
    writer, decoded = codec.decode(codec.encode_with(v2, record))
    assert writer is v2
    assert decoded == {**record, "fps_proxy_hmac": None}
    assert registry.current(subject).version == 3
    assert registry.current(subject).field_classes["fps_proxy_hmac"] == "D"
