"""crossbound.cli.scenario_view and `crossbound scenarios list|show`: the catalogue as people read it,
and README's scenario table (scripts/update_readme.py), which must be what the rule sets generate."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.cli import main
from crossbound.cli import scenario_view as view
from crossbound.codec import FIELD_CLASSES, SchemaRegistry
from crossbound.rules import Catalogue
from crossbound.rules.loader import ENVELOPE_FILE

ROOT = Path(__file__).resolve().parents[3]
PCN = "payment_connect_northbound"


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "scripts" / "update_readme.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _script()


@pytest.fixture(scope="module")
def loaded() -> tuple[Catalogue, SchemaRegistry]:
    return view.load(default_schemas_dir(), default_rulesets_dir())


@pytest.fixture(scope="module")
def catalogue(loaded: tuple[Catalogue, SchemaRegistry]) -> Catalogue:
    return loaded[0]


@pytest.fixture(scope="module")
def registry(loaded: tuple[Catalogue, SchemaRegistry]) -> SchemaRegistry:
    return loaded[1]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["scenarios", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- README ---------------------------------------------------------------------------------------


def test_readme_scenario_table_is_generated_from_the_rule_sets(catalogue: Catalogue) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert script.README == ROOT / "README.md"
    assert text.count(script.README_BEGIN) == text.count(script.README_END) == 1, (
        "README.md lacks the markers"
    )
    region = text.split(script.README_BEGIN)[1].split(script.README_END)[0].strip("\n")
    assert region == script.readme_table(catalogue), (
        f"README.md's scenario table differs from what rulesets/ generate; run {script.WRITE_COMMAND}"
    )
    assert text == script.replace_readme_region(text, region)


def test_readme_table_has_one_row_per_scenario(catalogue: Catalogue) -> None:
    lines = script.readme_table(catalogue).splitlines()
    header = (
        "| scenario | requester → attester | theme | scheme status | on the platform | PIPL outbound"
        " | own rules | title |"
    )
    assert lines[0] == header
    rows = lines[2:]
    assert len(rows) == len(catalogue.scenarios)
    for line, sid in zip(rows, sorted(catalogue.scenarios), strict=True):
        rs = catalogue.scenarios[sid]
        own = len(rs.rules) - len(rs.common_rule_ids)
        direction = f"{rs.requester_side} → {rs.attester_side}"
        pipl = "yes" if rs.pipl_outbound else "no"
        status = f"{rs.status} | {rs.platform_status}"
        assert line == f"| `{sid}` | {direction} | {rs.theme} | {status} | {pipl} | {own} | {rs.title} |"


def test_replace_readme_region_replaces_only_between_the_markers() -> None:
    text = f"# x\n\nintro\n{script.README_BEGIN}\nold\ntable\n{script.README_END}\n\nafter\n"
    new = script.replace_readme_region(text, "| t |")
    assert new == f"# x\n\nintro\n{script.README_BEGIN}\n| t |\n{script.README_END}\n\nafter\n"
    assert script.replace_readme_region(new, "| t |") == new


@pytest.mark.parametrize(
    "text",
    [
        "no markers",
        f"{script.README_BEGIN} only",
        f"{script.README_END} {script.README_BEGIN}",
        f"{script.README_BEGIN} {script.README_END} {script.README_BEGIN} {script.README_END}",
    ],
    ids=["none", "begin-only", "reversed", "twice"],
)
def test_replace_readme_region_needs_one_ordered_pair_of_markers(text: str) -> None:
    with pytest.raises(ValueError, match="scenarios:"):
        script.replace_readme_region(text, "| t |")


def test_write_readme_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# t\n\n## Scenarios\n\n{script.README_BEGIN}\nstale\n{script.README_END}\n\nend\n")
    assert script.main(["--check", "--readme", str(readme)]) == 1
    assert "run make readme" in capsys.readouterr().err
    assert script.main(["--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "stale" not in text
    assert f"`{PCN}`" in text
    assert text.startswith("# t\n\n## Scenarios\n\n")
    assert text.endswith(f"{script.README_END}\n\nend\n")
    assert script.main(["--check", "--readme", str(readme)]) == 0
    assert script.main(["--readme", str(readme)]) == 0
    assert readme.read_text() == text


def test_write_readme_without_markers_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# t\n")
    assert script.main(["--readme", str(readme)]) == 2
    assert script.README_BEGIN in capsys.readouterr().err
    assert readme.read_text() == "# t\n"


def test_makefile_has_a_readme_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "\nreadme:" in makefile
    assert "scripts/update_readme.py" in makefile


def test_the_script_runs_as_make_readme_runs_it(tmp_path: Path) -> None:
    target = tmp_path / "README.md"
    target.write_text(f"{script.README_BEGIN}\nold\n{script.README_END}\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "update_readme.py"), "--readme", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"`{PCN}`" in target.read_text()


# -- views ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("avro_type", "name"),
    [
        ("string", "string"),
        (["null", "string"], "string?"),
        (["null", "string", "long"], "string | long?"),
        ({"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}, "decimal(18,2)"),
        ({"type": "int", "logicalType": "date"}, "date"),
        ({"type": "enum", "name": "E", "symbols": ["A", "B"]}, "enum(A|B)"),
        ({"type": "array", "items": "string"}, "array<string>"),
        ({"type": "map", "values": "long"}, "map<long>"),
        ({"type": "record", "name": "R", "fields": []}, "record R"),
        ({"type": "boolean"}, "boolean"),
    ],
)
def test_avro_type_name(avro_type: Any, name: str) -> None:
    assert view.avro_type_name(avro_type) == name


def test_rows_count_own_and_common_rules(catalogue: Catalogue) -> None:
    rows = view.scenario_rows(catalogue)
    assert [r.id for r in rows] == sorted(catalogue.scenarios)
    for row in rows:
        rs = catalogue.scenarios[row.id]
        assert row.rules == len(rs.rules)
        assert row.common_rules == len(rs.common_rule_ids) > 0
        assert row.own_rules == len([r for r in rs.rules if r.id not in rs.common_rule_ids]) > 0
        assert row.direction in ("HK → SZ", "SZ → HK")


def test_view_groups_every_schema_field_under_its_class(
    catalogue: Catalogue, registry: SchemaRegistry
) -> None:
    for rs in catalogue.scenarios.values():
        detail = view.scenario_view(rs, registry)
        for subject, fields, key in (
            (rs.request_subject, detail.request_fields, "request"),
            (rs.attestation_subject, detail.attestation_fields, "attestation"),
        ):
            raw = {f["name"]: f["class"] for f in registry.current(subject).raw["fields"]}
            assert {f.name: f.cls for f in fields} == raw
            grouped = detail.as_json()[key]["fields"]
            assert set(grouped) == set(FIELD_CLASSES)
            for cls, group in grouped.items():
                assert [f["name"] for f in group] == [n for n, c in raw.items() if c == cls]


def test_view_marks_common_rules_and_keeps_their_order(
    catalogue: Catalogue, registry: SchemaRegistry
) -> None:
    rs = catalogue.scenarios[PCN]
    detail = view.scenario_view(rs, registry)
    assert [r.id for r in detail.rules] == [r.id for r in rs.rules]
    assert {r.id for r in detail.rules if r.common} == rs.common_rule_ids
    n_common = len(rs.common_rule_ids)
    assert all(r.common for r in detail.rules[:n_common])  # common rules first
    assert not any(r.common for r in detail.rules[n_common:])


def test_format_scenario_shows_sides_purposes_flags_fields_and_rules(
    catalogue: Catalogue, registry: SchemaRegistry
) -> None:
    rs = catalogue.scenarios[PCN]
    text = view.format_scenario(view.scenario_view(rs, registry))
    assert text.splitlines()[0] == f"{PCN} {rs.version}: {rs.title}"
    assert "HK requests, SZ attests (HK → SZ)" in text
    for purpose in rs.purposes:
        assert purpose in text
    assert "yes; leaves the mainland (PIPL): yes; sensitive: yes" in text
    assert "PIPL outbound: The mainland receiving bank's answer" in text
    for cls, label in FIELD_CLASSES.items():
        assert f"  {cls}  {label}" in text
    for field in registry.current(rs.request_subject).raw["fields"]:
        assert field["name"] in text
    lines = text.splitlines()
    for rule in rs.rules:
        line = next(x for x in lines if x.split()[:2] in (["*", rule.id], [rule.id, rule.stage]))
        assert line.lstrip().startswith("*") == (rule.id in rs.common_rule_ids)
        assert rule.severity.value in line
        assert rule.check in line
    assert "source: HKMA Payment Connect [S25]" in text


def test_format_list_has_a_header_and_a_line_per_scenario(catalogue: Catalogue) -> None:
    lines = view.format_list(view.scenario_rows(catalogue)).splitlines()
    assert lines[0].split() == ["id", "sides", "theme", "status", "pipl_out", "rules", "title"]
    assert len(lines) == 1 + len(catalogue.scenarios)
    assert all(" → " in line for line in lines[1:])


# -- CLI ------------------------------------------------------------------------------------------


def test_cli_list(capsys: pytest.CaptureFixture[str], catalogue: Catalogue) -> None:
    code, out, err = _run(capsys, "list")
    assert code == 0, err
    assert out.rstrip("\n") == view.format_list(view.scenario_rows(catalogue))


def test_cli_list_json(capsys: pytest.CaptureFixture[str], catalogue: Catalogue) -> None:
    code, out, err = _run(capsys, "list", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["id"] for r in rows] == sorted(catalogue.scenarios)
    pcn = next(r for r in rows if r["id"] == PCN)
    rs = catalogue.scenarios[PCN]
    assert pcn["requester_side"] == "HK"
    assert pcn["attester_side"] == "SZ"
    assert pcn["theme"] == rs.theme
    assert pcn["status"] == rs.status
    assert pcn["rules"] == len(rs.rules) == pcn["own_rules"] + pcn["common_rules"]
    assert pcn["title"] == rs.title


def test_cli_show(capsys: pytest.CaptureFixture[str], catalogue: Catalogue, registry: SchemaRegistry) -> None:
    code, out, err = _run(capsys, "show", PCN)
    assert code == 0, err
    assert out.rstrip("\n") == view.format_scenario(view.scenario_view(catalogue.scenarios[PCN], registry))


def test_cli_show_json(capsys: pytest.CaptureFixture[str], catalogue: Catalogue) -> None:
    code, out, err = _run(capsys, "show", PCN, "--json")
    assert code == 0, err
    shown = json.loads(out)
    rs = catalogue.scenarios[PCN]
    assert shown["id"] == PCN
    assert shown["purposes"] == list(rs.purposes)
    assert shown["personal_data"] is rs.personal_data
    assert shown["pipl_outbound"] is rs.pipl_outbound is True
    assert shown["pipl_outbound_reason"] == rs.pipl_outbound_reason != ""
    assert shown["sensitive_personal_data"] is rs.sensitive_personal_data
    assert shown["request"]["schema"] == rs.request_subject
    assert [f["name"] for f in shown["request"]["fields"]["D"]] == [
        "payer_hkid_hmac",
        "payee_acct_hmac",
        "payee_name_hmac",
        "payer_ledger_ref",
        "payer_ledger_ref_next",
    ]
    assert [f["name"] for f in shown["attestation"]["fields"]["B"]] == ["payee_name_match"]
    rules = {r["id"]: r for r in shown["rules"]}
    assert list(rules) == [r.id for r in rs.rules]
    assert rules["PCN-03"] == {
        "id": "PCN-03",
        "stage": "quota",
        "severity": "REJECT",
        "check": "quota",
        "fields": ["payload.amount_hkd"],
        "description": rs.rules[[r.id for r in rs.rules].index("PCN-03")].description,
        "source": "HKMA Payment Connect, public limit [S25] [R20]",
        "params": {
            "key": ["request.requester_inst", "payload.ledger_key_id", "payload.payer_ledger_ref"],
            "key_next": [
                "request.requester_inst",
                "payload.ledger_key_next_id",
                "payload.payer_ledger_ref_next",
            ],
            "amount": "payload.amount_hkd",
            "window": "day",
            "limit": "10000",
        },
        "common": False,
    }
    assert rules["ENV-VERSION"]["common"] is True


def test_cli_show_unknown_scenario_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "show", "no_such_scenario")
    assert code == 2
    assert out == ""
    assert err.startswith("crossbound: unknown scenario 'no_such_scenario'; known: ")
    assert PCN in err


def test_cli_honours_rulesets_and_schemas(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rulesets = tmp_path / "rulesets"
    rulesets.mkdir()
    for name in (ENVELOPE_FILE, f"{PCN}.toml"):
        shutil.copy(default_rulesets_dir() / name, rulesets / name)
    code, out, err = _run(capsys, "list", "--json", "--rulesets", str(rulesets))
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)] == [PCN]
    code, out, err = _run(capsys, "show", PCN, "--schemas", str(tmp_path / "missing"))
    assert code == 2
    assert "schemas directory not found" in err
