"""Avro single-object encoding: ``C3 01``, the 8-byte little-endian CRC-64-AVRO fingerprint, the body.

``Codec`` encodes with a subject's current schema and decodes any known version into the current one.
Every failure to decode becomes a :class:`~crossbound.errors.DecodeError` with a short ``reason``
(``too_large``, ``bad_magic``, ``unknown_schema``, ``wrong_record_type``, ``undecodable``); nothing
from fastavro leaks out of this module.
"""

from __future__ import annotations

from collections.abc import Collection
from io import BytesIO
from typing import Any, cast

from fastavro import schemaless_reader, schemaless_writer

from crossbound.codec.registry import SchemaRegistry, SchemaVersion
from crossbound.errors import DecodeError

__all__ = ["MAGIC", "Codec"]

MAGIC = b"\xc3\x01"
_HEADER_LEN = 10


class Codec:
    """Encode and decode single-object Avro records against one registry."""

    def __init__(self, registry: SchemaRegistry, max_record_bytes: int = 1_000_000) -> None:
        self.registry = registry
        self.max_record_bytes = max_record_bytes
        # reader schema to use per writer fingerprint: None when the writer is the current version
        self._reader_for: dict[bytes, Any] = {}
        for subject in registry.subjects:
            current = registry.current(subject)
            for ver in registry.versions(subject):
                self._reader_for[ver.fingerprint] = None if ver is current else current.parsed

    def encode(self, subject: str, record: dict[str, Any]) -> bytes:
        """Encode ``record`` with the current version of ``subject``."""
        return self.encode_with(self.registry.current(subject), record)

    @staticmethod
    def encode_with(version: SchemaVersion, record: dict[str, Any]) -> bytes:
        """Encode ``record`` with one given schema version (tests use it to write old versions)."""
        out = BytesIO()
        out.write(version.header)
        schemaless_writer(out, version.parsed, record)
        return out.getvalue()

    def peek(self, data: bytes) -> SchemaVersion:
        """The schema version a record was written with, checking size and header only."""
        if len(data) > self.max_record_bytes:
            raise DecodeError(
                "too_large", f"record of {len(data)} bytes exceeds the {self.max_record_bytes} limit"
            )
        if len(data) < _HEADER_LEN or data[:2] != MAGIC:
            raise DecodeError(
                "bad_magic", "not Avro single-object encoding (expected C3 01 and a fingerprint)"
            )
        version = self.registry.by_fingerprint(data[2:_HEADER_LEN])
        if version is None:
            raise DecodeError("unknown_schema", f"unknown schema fingerprint {data[2:_HEADER_LEN].hex()}")
        return version

    def decode(
        self, data: bytes, expected: Collection[str] | None = None
    ) -> tuple[SchemaVersion, dict[str, Any]]:
        """Decode ``data`` into the current version of its subject.

        ``expected`` limits which subjects are acceptable (e.g. only ``core/request`` on a requests topic).
        """
        version = self.peek(data)
        if expected is not None and version.subject not in expected:
            raise DecodeError("wrong_record_type", f"a {version.subject} record is not expected here")
        body = BytesIO(data)
        body.seek(_HEADER_LEN)
        try:
            record = schemaless_reader(body, version.parsed, self._reader_for[version.fingerprint])
        except Exception as exc:
            raise DecodeError(
                "undecodable", f"body does not decode as {version.subject} v{version.version}"
            ) from exc
        if body.tell() != len(data):
            raise DecodeError("undecodable", f"{len(data) - body.tell()} trailing bytes after the record")
        return version, cast(dict[str, Any], record)  # every subject's top level is a record
