"""``crossbound registry generate|check`` and ``crossbound acl print``, without a broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossbound.cli import main


@pytest.fixture
def registry_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["registry", "generate", str(tmp_path / "reg")]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == (tmp_path / "reg" / "registry.toml").resolve()
    return path


def test_check_counts_a_good_registry(registry_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["registry", "check", str(registry_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "participants": 21,
        "active": 21,
        "keys": 21,
        "platform_keys": 2,
        "file": str(registry_file),
    }


def test_check_names_the_entry_and_the_fault(registry_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = registry_file.read_text(encoding="utf-8")
    registry_file.write_text(text.replace('city = "440300"', 'city = "HK"', 1), encoding="utf-8")
    assert main(["registry", "check", str(registry_file)]) == 2
    err = capsys.readouterr().err
    assert f"{registry_file}: participant " in err
    assert "city must be a six-digit GB/T 2260 code" in err


def test_acl_print_json_and_lines(registry_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["acl", "print", "--registry", str(registry_file), "--topic-prefix", "t.", "--json"]) == 0
    acls = json.loads(capsys.readouterr().out)
    # every generated participant requests and attests; every SZ one also issues fingerprints
    sz = {a["principal"] for a in acls if a["name"].startswith("t.sz.")}
    registries = [a for a in acls if a["name"].endswith(".fingerprints")]
    assert sorted(a["principal"] for a in registries) == sorted(sz)
    assert len(acls) == 21 * 5 + len(sz)
    assert {
        "principal": "User:hsbchkhhhkh",
        "resource_type": "TOPIC",
        "pattern_type": "LITERAL",
        "name": "t.hk.hsbchkhhhkh.verdicts",
        "operation": "READ",
        "permission": "ALLOW",
        "host": "*",
    } in acls
    assert main(["acl", "print", "--registry", str(registry_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 21 * 5 + len(sz)
    assert all(
        line.startswith("kafka-acls.sh --bootstrap-server BOOTSTRAP --add --allow-principal User:")
        for line in lines
    )
