"""Fixtures of the rules tests: the shipped schemas and catalogue, and a scratch copy of the rule files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rules_builders import RULESETS, SCHEMAS

from crossbound.codec import SchemaRegistry
from crossbound.rules import Catalogue, load_catalogue


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(SCHEMAS)


@pytest.fixture(scope="module")
def catalogue(registry: SchemaRegistry) -> Catalogue:
    return load_catalogue(RULESETS, registry)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A copy of the shipped rule files, to break."""
    target = tmp_path / "rulesets"
    shutil.copytree(RULESETS, target)
    return target
