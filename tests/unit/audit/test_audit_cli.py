"""``crossbound audit verify``: 0 on a clean log, 1 naming the first problem, --json, 2 for a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from auditlog import clean_log, dump, entry_at, registry_and_signers

from crossbound.cli import main


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    registry, signers = registry_and_signers(tmp_path / "reg")
    assert registry.path is not None
    log = clean_log(signers)
    hk, sz = dump(log.hk, tmp_path / "hk.jsonl"), dump(log.sz, tmp_path / "sz.jsonl")
    del log.hk[entry_at(log.hk, "hk.in.0", 1)]
    return registry.path, hk, sz, dump(log.hk, tmp_path / "tampered.jsonl")


def test_a_clean_log_is_accepted(
    files: tuple[Path, Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    registry, hk, sz, _ = files
    assert main(["audit", "verify", str(hk), "--anchors", str(sz), "--registry", str(registry)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{hk}: OK: hk side, 2 chain(s), 10 entries")
    assert f"2 cross-anchor(s) in {sz} matched" in out


def test_a_tampered_log_fails_naming_the_first_missing_entry(
    files: tuple[Path, Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    registry, _, sz, tampered = files
    assert main(["audit", "verify", str(tampered), "--anchors", str(sz), "--registry", str(registry)]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"{tampered}: FAILED: chain hk.in.0 seq 1 (line 4): "
        "is missing: seq 2 links to an entry not in the log"
    )
    assert main(["audit", "verify", str(tampered), "--registry", str(registry), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["problems"][0] == {
        "chain": "hk.in.0",
        "seq": 1,
        "line": 4,
        "problem": "is missing: seq 2 links to an entry not in the log",
    }


def test_a_file_that_is_no_export_is_refused(
    files: tuple[Path, Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n", encoding="utf-8")
    assert main(["audit", "verify", str(bad), "--registry", str(files[0])]) == 2
    assert f"{bad}: line 1: not an exported audit record" in capsys.readouterr().err
