"""The registry's [[platform]] tables: the worker's keys per side, and each bad entry refused."""

from __future__ import annotations

import datetime
import tomllib
from pathlib import Path
from typing import Any

import pytest

from crossbound.domain import Side
from crossbound.errors import RegistryError
from crossbound.participants import parse_registry
from crossbound.rules import Catalogue
from crossbound.runtime.worker import scenario_sides
from crossbound.testing.participants import generate_registry, platform_key_id

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)


@pytest.fixture
def scenarios(catalogue: Catalogue) -> dict[str, tuple[Side, Side]]:
    return scenario_sides(catalogue)


@pytest.fixture
def doc(tmp_path: Path, scenarios: dict[str, tuple[Side, Side]]) -> dict[str, Any]:
    path = generate_registry(tmp_path / "reg", scenarios, now=NOW).path
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_each_side_has_its_platform_key(doc: dict[str, Any], scenarios: dict[str, tuple[Side, Side]]) -> None:
    registry = parse_registry(doc, scenarios)
    for side in Side:
        (key,) = registry.platform_keys(side)
        assert key.key_id == platform_key_id(side)
        assert registry.platform_key(key.key_id) == (side, key)
        assert registry.signing_key(key.key_id) is None  # not a participant's key


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (lambda d: d["platform"][0].pop("side"), r"platform 1: missing side"),
        (lambda d: d["platform"][0].update(side="XX"), r"platform 1: side must be one of HK, SZ"),
        (lambda d: d["platform"][0].update(extra=1), r"platform 1: unknown keys \['extra'\]"),
        (lambda d: d["platform"][0].update(keys=[]), r"platform 1: keys must be a non-empty array"),
        (lambda d: d["platform"][1].update(side="HK"), r"platform 2: side HK already has"),
        (lambda d: d.update(platform={"side": "HK"}), r"platform must be an array of tables"),
        (
            lambda d: d["platform"][0]["keys"][0].update(public_key="AAAA"),
            r"platform HK key 'platform-hk-1': public_key must be 32 bytes",
        ),
        (
            lambda d: d["platform"][0]["keys"][0].update(key_id=d["participants"][0]["keys"][0]["key_id"]),
            r"platform HK key '[^']+': key_id already used by participant",
        ),
    ],
)
def test_a_bad_platform_entry_names_the_file_entry_and_fault(
    doc: dict[str, Any], scenarios: dict[str, tuple[Side, Side]], change: Any, fault: str
) -> None:
    change(doc)
    with pytest.raises(RegistryError, match=f"^reg.toml: {fault}"):
        parse_registry(doc, scenarios, path="reg.toml")
