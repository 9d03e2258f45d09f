"""Unit tests of crossbound.codec.records: each TypedDict has exactly the fields of its current schema."""

from __future__ import annotations

from typing import Any

import pytest
from codec_samples import SCHEMAS

from crossbound.codec import SchemaRegistry, records

TOP_LEVEL = {
    "core/request": records.Request,
    "core/attestation": records.Attestation,
    "core/attestation_request": records.AttestationRequest,
    "core/verdict": records.Verdict,
    "core/deadletter": records.DeadLetter,
    "internal/pending_request": records.PendingRequest,
    "internal/quota_check": records.QuotaCheck,
    "internal/quota_usage": records.QuotaUsage,
    "internal/answered_request": records.AnsweredRequest,
}
# nested records: (subject, path of field names down to the record) -> TypedDict
NESTED = {
    ("core/request", ("requester_inst",)): records.Institution,
    ("core/request", ("consent",)): records.Consent,
    ("core/verdict", ("findings",)): records.Finding,
    ("internal/pending_request", ("findings",)): records.StoredFinding,
    ("internal/quota_check", ("findings",)): records.StoredFinding,
    ("internal/quota_check", ("steps",)): records.QuotaStep,
    ("internal/quota_usage", ("windows",)): records.WindowTotal,
    ("internal/quota_usage", ("applied",)): records.AppliedCheck,
}


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
