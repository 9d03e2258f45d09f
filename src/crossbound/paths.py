"""Where the bundled schemas and rule sets live (wheel data, or the source checkout)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["default_rulesets_dir", "default_schemas_dir"]

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
