"""Paths and builders the tests share, imported as a module (``import helpers``), never from a conftest.

``tests/`` is on ``sys.path`` because ``tests/conftest.py`` lives there (pytest's default ``prepend``
import mode), so every test directory can import this module by name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
EXAMPLES = ROOT / "examples"
RULESETS = ROOT / "rulesets"
SCHEMAS = ROOT / "schemas"


def load_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path`` (AssertionError if the file holds anything else)."""
    data = json.loads(path.read_text())
    assert isinstance(data, dict), path
    return data
