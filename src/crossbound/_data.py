"""Where the bundled schemas, rule sets and example fixtures live (wheel data, or the source checkout)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["default_examples_dir", "default_rulesets_dir", "default_schemas_dir"]

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    bundled = _PACKAGE / "_data" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parents[1] / name


def default_schemas_dir() -> Path:
    """The ``schemas/`` directory shipped with crossbound."""
    return _data_dir("schemas")


def default_rulesets_dir() -> Path:
    """The ``rulesets/`` directory shipped with crossbound."""
    return _data_dir("rulesets")


def default_examples_dir() -> Path:
    """The ``examples/`` directory shipped with crossbound: every scenario's three fixtures."""
    return _data_dir("examples")
