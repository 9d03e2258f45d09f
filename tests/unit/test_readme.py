"""README.md as a user reads it: its Harness example runs as written, and its Command line section
names only commands and flags the CLI has."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from crossbound.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_harness_example_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", _section("Testing your integration"), re.S)
    assert blocks, "no python block in 'Testing your integration'"
    monkeypatch.chdir(ROOT)  # its paths are relative to a checkout, as a reader runs it
    exec(compile(blocks[0], "README.md", "exec"), {})


def test_the_harness_example_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    code = re.findall(r"```python\n(.*?)```", _section("Testing your integration"), re.S)[0]
    monkeypatch.chdir(ROOT)
    with pytest.raises(AssertionError):
        exec(compile(code.replace('"ACCEPT"', '"REJECT"'), "README.md", "exec"), {})


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    flags = {opt for a in parser._actions for opt in a.option_strings}
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for child in a.choices.values():
                flags |= _flags(child)
    return flags


def test_the_command_table_lists_every_command_and_only_real_flags() -> None:
    section = _section("Command line")
    rows = re.findall(r"^\| `crossbound (\w+)([^`]*)`", section, re.M)
    commands = _subcommands()
    assert sorted(name for name, _ in rows) == sorted(commands)
    for name, usage in rows:
        for flag in re.findall(r"--[a-z][a-z-]*", usage):
            assert flag in _flags(commands[name]), f"README: crossbound {name} has no {flag}"


def test_every_flag_in_the_configuration_table_is_a_worker_flag() -> None:
    worker = _flags(_subcommands()["worker"])
    for flag in re.findall(r"^\| `(--[a-z-]+)`", _section("Configuration"), re.M):
        assert flag in worker, flag
