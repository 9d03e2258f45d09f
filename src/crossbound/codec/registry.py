"""The schema repository: every ``.avsc`` under ``schemas/``, parsed once, indexed by fingerprint.

Files are named ``<subject>.v<N>.avsc`` below the schemas directory, for example
``core/request.v1.avsc`` (subject ``core/request``) or
``scenarios/payment_connect_northbound/request.v1.avsc``. The highest version of a subject is its
*current* schema: records are written with it and every older version is read into it (Avro schema
resolution). At load time each older version is checked with Apache Avro's reader/writer
compatibility checker, so a schema change that would break old records fails start-up.

Payload schemas (under ``scenarios/``), and ``core/fingerprint`` (the registry record a fingerprint-mode
scenario's rules read as its attestation), must give every top-level field a ``class``:
``C`` crosses in clear, ``D`` crosses only as a 64-hex digest, ``B`` crosses only as a yes/no or band
value (see README, "Field classes"). Data that never leaves its side has no field at all. Strings
that cross declare a ``form`` and class B ints a ``range`` (:mod:`crossbound.codec.forms`); each
file's checks are compiled here once, into :attr:`SchemaVersion.checks`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from crossbound.codec.forms import FieldCheck, compile_checks
from crossbound.errors import SchemaError

__all__ = ["FIELD_CLASSES", "SchemaRegistry", "SchemaVersion"]

FIELD_CLASSES = {"C": "in clear", "D": "digest only", "B": "yes/no or band only"}

_FILE_RE = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One parsed schema file (how records name it on the wire is the framing's business)."""

    subject: str
    version: int
    path: Path
    raw: dict[str, Any]
    parsed: Any
    fingerprint: bytes
    field_classes: Mapping[str, str] = field(default_factory=dict)
    checks: tuple[FieldCheck, ...] = ()
    """Every declared form, range, class and kind, flat (compiled once, see :mod:`crossbound.codec.forms`)."""
    bands: Mapping[str, FieldCheck] = field(default_factory=dict)
    """The class B fields by name: what a verdict may release."""
    input_checks: tuple[FieldCheck, ...] = ()
    """The checks with a form or a range: what an input is refused for."""


def _non_null(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        rest = [t for t in avro_type if t != "null"]
        return rest[0] if len(rest) == 1 else avro_type
    return avro_type


def _check_field_classes(path: Path, raw: dict[str, Any]) -> dict[str, str]:
    classes: dict[str, str] = {}
    for fld in raw.get("fields", []):
        name = fld["name"]
        cls = fld.get("class")
        if cls not in FIELD_CLASSES:
            raise SchemaError(path, f'field {name!r} must declare "class": one of {sorted(FIELD_CLASSES)}')
        base = _non_null(fld["type"])
        type_name = base.get("type") if isinstance(base, dict) else base
        d_ok = type_name == "string" or (
            type_name == "array" and isinstance(base, dict) and _non_null(base.get("items")) == "string"
        )
        if cls == "D" and not d_ok:
            raise SchemaError(
                path, f"field {name!r} is class D (digest) and must be a string or array of strings"
            )
        if cls == "B" and type_name not in ("boolean", "enum", "int", "array"):
            raise SchemaError(
                path, f"field {name!r} is class B and must be a boolean, an enum or an int band"
            )
        classes[name] = cls
    return classes


def _load_file(root: Path, path: Path) -> SchemaVersion:
    match = _FILE_RE.match(path.name)
    if match is None:
        raise SchemaError(path, "schema files must be named <name>.v<N>.avsc")
    rel_dir = path.parent.relative_to(root).as_posix()
    subject = f"{rel_dir}/{match['name']}" if rel_dir != "." else match["name"]
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(path, f"not readable JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("type") != "record":
        raise SchemaError(path, "top-level schema must be a record")
    try:
        parsed = parse_schema(raw, named_schemas={})
        canonical = to_parsing_canonical_form(parsed)
    except Exception as exc:
        raise SchemaError(path, f"not a valid Avro schema: {exc}") from exc
    fp = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    classed = subject.startswith("scenarios/") or subject == "core/fingerprint"
    classes = _check_field_classes(path, raw) if classed else {}
    checks = compile_checks(path, subject, raw)
    bands = {c.path[0]: c for c in checks if c.cls == "B"}
    declared = tuple(c for c in checks if c.form is not None or c.range is not None)
    return SchemaVersion(
        subject, int(match["version"]), path, raw, parsed, fp, classes, checks, bands, declared
    )


def _check_compatible(reader: SchemaVersion, writer: SchemaVersion) -> None:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]  # avro's __init__ is untyped
    try:
        result = checker.get_compatibility(
            avro.schema.parse(json.dumps(reader.raw)), avro.schema.parse(json.dumps(writer.raw))
        )
    except Exception as exc:
        raise SchemaError(reader.path, f"cannot check compatibility with {writer.path.name}: {exc}") from exc
    if result.compatibility is not SchemaCompatibilityType.compatible:
        raise SchemaError(
            reader.path,
            f"cannot read records written with {writer.path.name}: {'; '.join(result.messages)}",
        )


class SchemaRegistry:
    """All schemas of one directory, parsed once; lookups by subject and by fingerprint."""

    def __init__(self, versions: Iterable[SchemaVersion]) -> None:
        self._by_subject: dict[str, list[SchemaVersion]] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for ver in versions:
            clash = self._by_fingerprint.get(ver.fingerprint)
            if clash is not None:
                raise SchemaError(
                    ver.path, f"same fingerprint as {clash.path}; identical schemas must not repeat"
                )
            self._by_fingerprint[ver.fingerprint] = ver
            self._by_subject.setdefault(ver.subject, []).append(ver)
        for subject, vers in self._by_subject.items():
            vers.sort(key=lambda v: v.version)
            numbers = [v.version for v in vers]
            if numbers != list(range(1, len(vers) + 1)):
                raise SchemaError(
                    vers[-1].path, f"versions of {subject} must be 1..N without gaps, found {numbers}"
                )
            current = vers[-1]
            for older in vers[:-1]:
                if older.raw.get("name") != current.raw.get("name") or older.raw.get(
                    "namespace"
                ) != current.raw.get("namespace"):
                    raise SchemaError(current.path, f"record name differs from {older.path.name}")
                _check_compatible(current, older)

    @classmethod
    def load(cls, root: Path) -> SchemaRegistry:
        """Parse every schema file below ``root``."""
        if not root.is_dir():
            raise SchemaError(root, "schemas directory not found")
        files = sorted(root.rglob("*.avsc"))
        if not files:
            raise SchemaError(root, "no .avsc files found")
        return cls(_load_file(root, p) for p in files)

    def current(self, subject: str) -> SchemaVersion:
        """The newest version of ``subject``."""
        try:
            return self._by_subject[subject][-1]
        except KeyError:
            raise SchemaError(subject, "no such schema subject") from None

    def versions(self, subject: str) -> list[SchemaVersion]:
        """Every version of ``subject``, oldest first."""
        return list(self._by_subject.get(subject, ()))

    def by_fingerprint(self, fp: bytes) -> SchemaVersion | None:
        """The schema with this fingerprint, or ``None``."""
        return self._by_fingerprint.get(fp)

    @property
    def subjects(self) -> list[str]:
        """Every subject, sorted."""
        return sorted(self._by_subject)
