"""Unit tests of crossbound.codec.records: each TypedDict has exactly the fields of its current schema,
and each field the Python type the schema's decoded form has (the pipeline is typed by them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Optional, TypedDict, get_type_hints

import pytest
from codec_samples import SCHEMAS

from crossbound.codec import SchemaRegistry, records

TOP_LEVEL = {
    "core/request": records.Request,
    "core/attestation": records.Attestation,
    "core/attestation_request": records.AttestationRequest,
    "core/verdict": records.Verdict,
    "core/deadletter": records.DeadLetter,
    "core/fingerprint": records.Fingerprint,
    "internal/pending_request": records.PendingRequest,
    "internal/quota_check": records.QuotaCheck,
    "internal/quota_usage": records.QuotaUsage,
    "internal/answered_request": records.AnsweredRequest,
}
# nested records: (subject, path of field names down to the record) -> TypedDict
NESTED = {
    ("core/request", ("requester_inst",)): records.Institution,
    ("core/request", ("consent",)): records.Consent,
    ("core/fingerprint", ("issuer",)): records.Institution,
    ("core/verdict", ("findings",)): records.Finding,
    ("internal/pending_request", ("findings",)): records.StoredFinding,
    ("internal/quota_check", ("findings",)): records.StoredFinding,
    ("internal/quota_check", ("steps",)): records.QuotaStep,
    ("internal/quota_usage", ("windows",)): records.WindowTotal,
}


# nested Avro records by name -> their TypedDict (QuotaFinding is StoredFinding under another name)
BY_NAME: dict[str, type] = {
    "Institution": records.Institution,
    "Consent": records.Consent,
    "Finding": records.Finding,
    "StoredFinding": records.StoredFinding,
    "QuotaFinding": records.StoredFinding,
    "QuotaStep": records.QuotaStep,
    "WindowTotal": records.WindowTotal,
}
PRIMITIVES: dict[str, Any] = {"string": str, "int": int, "long": int, "boolean": bool, "bytes": bytes}


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(SCHEMAS)


def _record(avro_type: Any) -> dict[str, Any]:
    """The record inside a field's type: through unions, arrays and maps."""
    if isinstance(avro_type, list):
        [inner] = [t for t in avro_type if t != "null"]
        return _record(inner)
    if avro_type.get("type") == "array":
        return _record(avro_type["items"])
    if avro_type.get("type") == "map":
        return _record(avro_type["values"])
    assert avro_type["type"] == "record", avro_type
    return dict(avro_type)


def _fields(schema: dict[str, Any]) -> list[str]:
    return [f["name"] for f in schema["fields"]]


def test_every_core_and_internal_subject_has_a_shape(registry: SchemaRegistry) -> None:
    assert sorted(TOP_LEVEL) == [s for s in registry.subjects if not s.startswith("scenarios/")]


@pytest.mark.parametrize("subject", sorted(TOP_LEVEL))
def test_top_level_shape_matches_the_current_schema(registry: SchemaRegistry, subject: str) -> None:
    shape = TOP_LEVEL[subject]
    raw = registry.current(subject).raw
    assert list(shape.__annotations__) == _fields(raw)
    assert shape.__doc__ is not None
    assert f"{raw.get('namespace')}.{raw['name']}" in shape.__doc__  # the Avro name, unchanged


@pytest.mark.parametrize(("where", "shape"), list(NESTED.items()), ids=lambda x: str(x))
def test_nested_shape_matches_the_current_schema(
    registry: SchemaRegistry, where: tuple[str, tuple[str, ...]], shape: type
) -> None:
    subject, (field,) = where
    raw = registry.current(subject).raw
    nested = _record(next(f["type"] for f in raw["fields"] if f["name"] == field))
    assert list(shape.__annotations__) == _fields(nested)


def _python_type(avro_type: Any, named: dict[str, Any]) -> Any:
    """The Python type of a field's decoded value (how fastavro hands it out and takes it)."""
    if isinstance(avro_type, str):
        return named[avro_type] if avro_type in named else PRIMITIVES[avro_type]
    if isinstance(avro_type, list):
        [inner] = [t for t in avro_type if t != "null"]
        return Optional[_python_type(inner, named)]  # noqa: UP045  X | None does not take a Literal
    kind = avro_type["type"]
    if avro_type.get("logicalType") == "timestamp-millis":
        return datetime
    if kind == "enum":
        named[avro_type["name"]] = Literal[tuple(avro_type["symbols"])]
        return named[avro_type["name"]]
    if kind == "array":
        return list[_python_type(avro_type["items"], named)]
    if kind == "map":
        return dict[str, _python_type(avro_type["values"], named)]
    if kind == "record":
        for f in avro_type["fields"]:
            _python_type(f["type"], named)  # names its enums and records for later references
        named[avro_type["name"]] = BY_NAME[avro_type["name"]]
        return named[avro_type["name"]]
    return _python_type(kind, named)


def _check_types(shape: type, raw: dict[str, Any], named: dict[str, Any]) -> None:
    hints = get_type_hints(shape)
    for field in raw["fields"]:
        assert hints[field["name"]] == _python_type(field["type"], named), (shape.__name__, field["name"])
        inner = _nested_record(field["type"])
        if inner is not None:
            _check_types(BY_NAME[inner["name"]], inner, named)


def _nested_record(avro_type: Any) -> dict[str, Any] | None:
    """The record defined inside a field's type (through unions, arrays, maps), if one is defined there."""
    if isinstance(avro_type, list):
        return _nested_record(next(t for t in avro_type if t != "null"))
    if not isinstance(avro_type, dict):
        return None  # a primitive or a reference to a type defined earlier
    if avro_type["type"] == "array":
        return _nested_record(avro_type["items"])
    if avro_type["type"] == "map":
        return _nested_record(avro_type["values"])
    return avro_type if avro_type["type"] == "record" else None


@pytest.mark.parametrize("subject", sorted(TOP_LEVEL))
def test_every_field_has_the_type_of_its_decoded_value(registry: SchemaRegistry, subject: str) -> None:
    _check_types(TOP_LEVEL[subject], registry.current(subject).raw, {})


class _Loose(TypedDict):
    side: str


def test_the_type_check_catches_a_loose_field() -> None:
    # a str where the schema has an enum (what the pipeline's own copy of the shapes had) is reported
    raw = {"fields": [{"name": "side", "type": {"type": "enum", "name": "Side", "symbols": ["HK", "SZ"]}}]}
    with pytest.raises(AssertionError, match="side"):
        _check_types(_Loose, raw, {})
