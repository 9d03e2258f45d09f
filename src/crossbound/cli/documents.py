"""The JSON files ``check`` and ``publish`` read: one pretty-printed object, JSON lines, several
objects one after another, or an array of objects.

One reader for both commands, so that a file ``check`` accepts is a file ``publish`` sends. Every
object comes with the line it starts on, which is how errors name it (``line 3: ...``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossbound.errors import InputError

__all__ = ["Document", "parse_documents", "read_documents"]

_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class Document:
    """One JSON object of a file and the line it starts on (1-based)."""

    line: int
    value: dict[str, Any]


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n\ufeff":
        pos += 1
    return pos


def parse_documents(text: str) -> list[Document]:
    """Every JSON object in ``text``; :class:`InputError` naming the line of the first bad one."""
    out: list[Document] = []
    pos = _skip_space(text, 0)
    while pos < len(text):
        line = text.count("\n", 0, pos) + 1
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {line}: not JSON ({exc.msg} at line {exc.lineno})") from None
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                raise InputError(f"line {line}: a request or attestation must be a JSON object")
            out.append(Document(line, item))
        pos = _skip_space(text, end)
    return out


def read_documents(name: str | Path) -> list[Document]:
    """The JSON objects of file ``name`` (``-``: standard input); errors name the file and line."""
    if str(name) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(name).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{name}: {exc.strerror}") from None
    try:
        return parse_documents(text)
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None
