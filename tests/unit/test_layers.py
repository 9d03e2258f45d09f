"""The package's import layers, read from the source (AST), not from what happens to be imported.

Each package has a role: the lower ones know nothing of the ones above them. Imports under
``if TYPE_CHECKING:`` count too: a type is a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import SRC

PACKAGE = SRC / "crossbound"

# What each part of crossbound may import from crossbound (besides itself). Anything not listed is
# forbidden. Order is bottom to top.
_CORE = {
    "errors",
    "domain",
    "_data",
    "codec",
    "identifiers",
    "rules",
    "pipeline",
    "topics",
    "metrics",
    "metrics_server",
    "settings",
    "participants",
    "signing",
}
MAY_IMPORT: dict[str, set[str]] = {
    "errors": set(),
    "domain": set(),
    "_data": set(),
    "topics": {"domain"},
    "metrics": {"domain"},
    "metrics_server": set(),
    "settings": {"_data"},
    "identifiers": {"errors", "domain"},
    "codec": {"errors", "domain"},
    "rules": {"errors", "domain", "codec", "identifiers", "topics"},
    "pipeline": {
        "errors",
        "domain",
        "codec",
        "identifiers",
        "rules",
        "topics",
        "metrics",
        "participants",
        "signing",
    },
    "participants": {"errors", "domain", "identifiers", "topics"},
    "signing": {"errors", "domain", "participants"},
    "audit": {"errors", "domain", "codec", "pipeline", "participants", "signing", "topics", "metrics"},
    "broker": {"errors", "domain", "settings", "topics", "participants"},
    # what an institution runs: the codec, the topics, signing and the broker's TLS/SASL, no pipeline
    "client": {"errors", "domain", "codec", "topics", "participants", "signing", "broker"},
    "runtime": _CORE | {"broker", "audit"},
    "testing": _CORE | {"broker", "runtime", "audit", "client"},
    "cli": _CORE | {"broker", "runtime", "testing", "audit", "client"},
}

# Third-party libraries that only one part may use.
ONLY_IN: dict[str, set[str]] = {
    "faust": {"runtime"},
    "mode": {"runtime"},
    "fastavro": {"codec"},
    "avro": {"codec"},
    "aiokafka": {"broker", "runtime", "testing", "cli", "client"},
    "cel": {"rules"},
}


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(source: str) -> Iterator[tuple[int, str]]:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "crossbound":
                for alias in node.names:
                    yield node.lineno, f"crossbound.{alias.name}"
            else:
                yield node.lineno, node.module


# the package's own __init__ (its version) and __main__ (the entry point: the CLI) sit above every layer
MODULES = sorted(
    p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.stem not in {"__init__", "__main__"}
)


def _violations(part: str, source: str, label: str) -> Iterator[str]:
    allowed = MAY_IMPORT[part] | {part}
    for line, name in _imports(source):
        top, _, rest = name.partition(".")
        where = f"{label}:{line} imports {name}"
        if top == "crossbound":
            target = rest.split(".")[0]
            if target in {"", "__version__"}:
                continue
            if target not in allowed:
                yield f"{where}: {part} may import only {sorted(MAY_IMPORT[part])}"
        elif top in ONLY_IN and part not in ONLY_IN[top]:
            yield f"{where}: {top} belongs in {sorted(ONLY_IN[top])} only"


def test_every_part_has_a_layer() -> None:
    parts = {_part(p) for p in MODULES}
    assert parts <= set(MAY_IMPORT), parts - set(MAY_IMPORT)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_respect_the_layers(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert list(_violations(_part(path), source, str(path.relative_to(SRC)))) == []


def test_the_layer_check_catches_a_violation() -> None:
    # the rule itself can fail: faust, the runtime or the CLI imported by the pipeline are reported
    source = "import faust\nfrom crossbound.runtime import app\nfrom crossbound import cli\nimport json\n"
    found = list(_violations("pipeline", source, "probe.py"))
    assert [f.split(" imports ")[1].split(":")[0] for f in found] == [
        "faust",
        "crossbound.runtime",
        "crossbound.cli",
    ]
