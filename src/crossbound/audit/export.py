"""The exported audit log: JSON lines, one audit record each, in the topic's order.

Each line is ``{"partition": P, "offset": O, "record": {...}}``: where the record was on its audit
topic and the record itself (an entry or a checkpoint, see :mod:`crossbound.audit`). Partitions are
written one after the other, each in offset order, so each chain (one partition) reads in the order
it was written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossbound.errors import InputError

__all__ = ["Logged", "from_topic", "read_log", "write_log"]


@dataclass(frozen=True, slots=True)
class Logged:
    """One audit record as exported: its line in the file, its place on the topic, its content."""

    line: int
    partition: int
    offset: int
    record: Any  # a JSON object if well formed; the verifier says what is wrong otherwise


def from_topic(partition: int, offset: int, value: bytes | None) -> dict[str, Any]:
    """The export line of one consumed audit record (a value that is not JSON is kept as text, for
    the verifier to name)."""
    try:
        record = json.loads(value or b"")
    except ValueError:
        record = (value or b"").decode("utf-8", errors="replace")
    return {"partition": partition, "offset": offset, "record": record}


def write_log(lines: Iterable[dict[str, Any]], path: Path) -> int:
    """Write an exported log (lines sorted by partition, then offset); returns how many records."""
    ordered = sorted(lines, key=lambda d: (d["partition"], d["offset"]))
    with path.open("w", encoding="utf-8") as out:
        for line in ordered:
            out.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
    return len(ordered)


def read_log(path: Path) -> list[Logged]:
    """An exported log; :class:`InputError` for a file that cannot be read or a line that is no JSON
    export line (naming the file and the line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            out.append(Logged(number, int(obj["partition"]), int(obj["offset"]), obj["record"]))
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{path}: line {number}: not an exported audit record") from None
    return out
