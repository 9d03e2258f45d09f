"""`crossbound ids`: one line per value (valid/invalid and why), JSON lines, exit 0/1/2, the kind list."""

from __future__ import annotations

import json

import pytest

from crossbound.cli import main
from crossbound.cli.ids import KIND_DESCRIPTIONS
from crossbound.identifiers import KINDS


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["ids", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_kind_has_a_description() -> None:
    assert list(KIND_DESCRIPTIONS) == list(KINDS)
    assert all(d and "\n" not in d for d in KIND_DESCRIPTIONS.values())


@pytest.mark.parametrize("argv", [(), ("--list",)], ids=["bare", "list"])
def test_list_prints_one_line_per_kind(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(KINDS)
    for line, kind in zip(lines, KINDS, strict=True):
        assert line.endswith(KIND_DESCRIPTIONS[kind])


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--list", "--json")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"kind": k, "description": KIND_DESCRIPTIONS[k]} for k in KINDS
    ]


def test_all_valid_exits_0_one_line_per_value_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    values = ["A123456(3)", "AB987654(3)", "Z683365A"]
    code, out, err = _run(capsys, "hkid", *values)
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 3
    for line, value in zip(lines, values, strict=True):
        assert line.split()[:2] == [value, "valid"]
    assert "normalised: A1234563" in lines[0]  # brackets dropped
    assert lines[2].split() == ["Z683365A", "valid"]  # already normal: nothing more to say


def test_any_invalid_exits_1_and_gives_code_and_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "uscc", "91110000600037341L", "91110000600037341X", "9111000060003734L")
    assert code == 1
    ok, bad_check, bad_length = out.splitlines()
    assert ok.split() == ["91110000600037341L", "valid"]
    assert bad_check.split()[:3] == ["91110000600037341X", "invalid", "CHECK_DIGIT:"]
    assert "mod 31" in bad_check
    assert bad_length.split()[:3] == ["9111000060003734L", "invalid", "LENGTH:"]
    assert "18 characters" in bad_length


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("currency", "CNH", ["warnings: CNH_NORMALISED", "normalised: CNY"]),
        ("bic", "BKCHHKH0", ["warnings: TEST_BIC"]),
        ("uscc", "91440300123456789Q", ["warnings: GB11714_CHECK"]),
        ("cn_resident_id", "990000199001011239", ["warnings: UNKNOWN_AREA_CODE"]),
    ],
)
def test_valid_with_warnings_lists_the_codes(
    capsys: pytest.CaptureFixture[str], kind: str, value: str, expected: list[str]
) -> None:
    code, out, _ = _run(capsys, kind, value, "--today", "2025-06-01")
    assert code == 0
    assert out.split()[:2] == [value, "valid"]
    for text in expected:
        assert text in out


def test_json_prints_one_object_per_value(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--json", "currency", "CNH", "XXX")
    assert code == 1
    cnh, xxx = (json.loads(line) for line in out.splitlines())
    assert cnh == {
        "value": "CNH",
        "kind": "currency",
        "valid": True,
        "code": "OK",
        "reason": "valid",
        "normalised": "CNY",
        "warnings": ["CNH_NORMALISED"],
    }
    assert xxx["valid"] is False
    assert xxx["code"] == "UNKNOWN_CURRENCY"
    assert xxx["normalised"] is None
    assert xxx["warnings"] == []


def test_today_sets_the_reference_date_for_birth_dates(capsys: pytest.CaptureFixture[str]) -> None:
    born_2030 = "81000020300101123X"
    code, out, _ = _run(capsys, "cn_resident_id", born_2030, "--today", "2029-12-31")
    assert code == 1
    assert "FUTURE_DATE" in out
    code, out, _ = _run(capsys, "cn_resident_id", born_2030, "--today", "2030-01-01")
    assert code == 0
    assert out.split() == [born_2030, "valid"]


def test_values_starting_with_a_dash_after_double_dash(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "fps_id", "--", "-1234567")
    assert code == 0
    assert out.split()[:2] == ["-1234567", "valid"]


def _usage_error(result: tuple[int, str, str], *names: str) -> None:
    code, out, err = result
    assert code == 2
    assert out == ""
    assert err.startswith("crossbound: ")
    for name in names:
        assert name in err


def test_unknown_kind_exits_2_and_lists_the_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    _usage_error(_run(capsys, "passport", "X1234567"), "'passport'", *KINDS)


def test_kind_without_values_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    _usage_error(_run(capsys, "hkid"), "VALUE")


def test_bad_today_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    _usage_error(_run(capsys, "hkid", "A123456(3)", "--today", "1 June"), "--today")
