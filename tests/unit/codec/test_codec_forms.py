"""Declared forms and ranges (crossbound.codec.forms): what the shipped schemas declare, what each form
takes and refuses, and the start-up faults of a bad declaration (the file and the field named)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crossbound._data import default_schemas_dir
from crossbound.codec import SchemaRegistry
from crossbound.codec.forms import CROSSING, FORMS
from crossbound.errors import SchemaError

GOOD = {
    "uuid": ["9c4f1e08-7b2a-4d35-a6c9-1e8d3f5a2b21"],
    "hex32": ["073fa9c1e07b2d4c6a8e1f5b9d0c7a2e"],
    "digest": ["52349681c6d7829f6e677d4b7fa94709715e1492e7a5203102b32169b00012a7"],
    "key_id": ["demo-2026", "hksz-2026-03"],
    "consent_ref": ["CNS-1E8D3F5A2B21", "cns-07a3-fa9c-1e07", "9c4f1e08-7b2a-4d35-a6c9-1e8d3f5a2b21"],
    "city_code": ["440300", "HK"],
    "iso4217": ["CNY", "CNH", "HKD"],
    "code": [
        "",
        "HK0000873015",
        "850440",
        "EHCV-GBA-07",
        "2025-26",
        "A02.10",
        "1.1.1.1",
        "CROSS_BORDER_PAYMENT",
        "HK-TST-008",
    ],
    "inst_id": ["BKCHHKHHXXX", "254900HKCNSZDVP00122", "91440300MA5F8K2L3P", "12345678"],
}
PROBES = [
    "A123456(3)",
    "a1234563",
    "110105 19491231 002X",
    "+86 138 1234 5678",
    "+852 9123 4567",
    "chan.taiman@example.com",
    "陳大文",
    "CHAN Tai Man",
]
# forms whose pattern cannot hold a probe at all; the loose ones (code, inst_id...) rely on the guard's scan
STRICT = ["uuid", "hex32", "digest", "key_id", "consent_ref", "city_code", "iso4217"]


@pytest.mark.parametrize("name", sorted(GOOD))
def test_each_form_takes_what_the_fixtures_carry(name: str) -> None:
    assert all(FORMS[name].matches(v) for v in GOOD[name])


@pytest.mark.parametrize("name", STRICT)
def test_strict_forms_refuse_every_probe(name: str) -> None:
    assert [p for p in PROBES if FORMS[name].matches(p)] == []


def test_loose_forms_are_scanned_and_strict_ones_need_not_be() -> None:
    assert all(FORMS[n].scan for n in ("code", "consent_ref", "key_id"))
    assert not any(FORMS[n].scan for n in ("uuid", "hex32", "digest", "city_code", "iso4217"))


def test_every_string_of_the_crossing_envelopes_declares_a_form() -> None:
    registry = SchemaRegistry.load(default_schemas_dir())
    for subject in CROSSING:
        checks = registry.current(subject).checks
        assert checks, subject
        assert all(c.form is not None for c in checks), subject
    nested = {c.where: c.form.name for c in registry.current("core/request").checks if c.form}
    assert nested["consent.purpose_codes[]"] == "code"
    assert nested["consent.recipient_inst.city"] == "city_code"


def test_every_band_of_the_shipped_scenarios_has_its_range() -> None:
    registry = SchemaRegistry.load(default_schemas_dir())
    ranges = {
        (s.split("/")[1], c.where): c.range
        for s in registry.subjects
        if s.startswith("scenarios/")
        for c in registry.current(s).checks
        if c.range
    }
    assert ranges[("corporate_kyc_report", "ubo_count")] == (0, 4)
    assert ranges[("wmc_remittance_quota", "net_used_cny_band")] == (0, 30)
    assert ranges[("insurance_claim_gba_medical", "days_after_discharge")] == (-3660, 3660)
    assert len(ranges) == 8


def _payload(*extra: dict[str, Any]) -> dict[str, Any]:
    fields = [{"name": "digest", "type": "string", "class": "D"}, *extra]
    return {"type": "record", "name": "P", "namespace": "t", "fields": fields}


def _load(tmp_path: Path, rel: str, schema: dict[str, Any]) -> Path:
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("field", "fault"),
    [
        ({"name": "ccy", "type": "string", "class": "C", "form": "currency"}, "unknown form 'currency'"),
        ({"name": "n", "type": "int", "class": "C", "form": "code"}, '"form" applies to strings'),
        ({"name": "n", "type": "int", "class": "B"}, 'must declare "range"'),
        ({"name": "n", "type": "int", "class": "B", "range": [3, 1]}, "lo <= hi"),
        ({"name": "n", "type": "int", "class": "B", "range": ["0", 9]}, "two integers"),
        ({"name": "n", "type": "string", "class": "C", "range": [0, 9], "form": "code"}, "int and long"),
        ({"name": "note", "type": "string", "class": "C"}, 'must declare "form"'),
        ({"name": "tags", "type": {"type": "array", "items": "string"}, "class": "C"}, 'must declare "form"'),
    ],
    ids=[
        "unknown-form",
        "form-on-int",
        "band-without-range",
        "empty-range",
        "range-not-ints",
        "range-on-string",
        "free-string",
        "free-string-array",
    ],
)
def test_a_bad_declaration_fails_naming_file_and_field(
    tmp_path: Path, field: dict[str, Any], fault: str
) -> None:
    bad = _load(tmp_path, "scenarios/demo/request.v1.avsc", _payload(field))
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)
    assert f"field '{field['name']}" in err.value.fault  # tags[] for the items of tags
    assert fault in err.value.fault


def test_an_identifier_kind_stands_for_a_form(tmp_path: Path) -> None:
    _load(
        tmp_path,
        "scenarios/demo/request.v1.avsc",
        _payload({"name": "u", "type": "string", "class": "C", "kind": "uscc"}),
    )
    [check] = [c for c in SchemaRegistry.load(tmp_path).current("scenarios/demo/request").checks if c.kind]
    assert (check.where, check.form) == ("u", None)


def test_a_crossing_envelope_string_without_a_form_fails_naming_the_nested_field(tmp_path: Path) -> None:
    inst = {"type": "record", "name": "Inst", "fields": [{"name": "city", "type": ["null", "string"]}]}
    schema = {"type": "record", "name": "Verdict", "fields": [{"name": "inst", "type": inst}]}
    bad = _load(tmp_path, "core/verdict.v1.avsc", schema)
    with pytest.raises(SchemaError) as err:
        SchemaRegistry.load(tmp_path)
    assert err.value.path == str(bad)
    assert "field 'inst.city'" in err.value.fault
