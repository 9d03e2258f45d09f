"""The strings of JSON-like documents, for scans that must see every value (the clear-text scan's
tests and benchmark read every string of every example fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from crossbound.testing import fixtures

__all__ = ["fixture_documents", "strings"]


def strings(value: Any) -> Iterator[str]:
    """Every string in ``value``: itself, or inside its mappings' values and lists, depth first."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def fixture_documents() -> list[Any]:
    """The request and attestation (None where there is none) of every example fixture."""
    docs: list[Any] = []
    for sid in fixtures.discover():
        for fx in fixtures.load(sid).fixtures.values():
            docs += [fx.request, fx.attestation]
    return docs
