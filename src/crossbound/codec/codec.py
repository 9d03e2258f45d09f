"""Encode and decode Avro records through a :class:`~crossbound.codec.framing.Framing`.

``Codec`` encodes with a subject's current schema and decodes any known version into the current one.
The framing (default: Avro single-object encoding, ``C3 01`` + fingerprint) names the writer schema
ahead of the body. ``max_record_bytes`` is the limit on *inputs*: only :meth:`Codec.decode_input`
applies it, where the pipeline decodes what a producer sent. Records the pipeline writes itself (its
tables, the hop topic) carry an input whole plus their own fields, so they may be larger, and
:meth:`Codec.decode` reads them whatever their size. Every failure to decode becomes a
:class:`~crossbound.errors.DecodeError` with a short ``reason`` (``too_large``, ``bad_magic``,
``unknown_schema``, ``wrong_record_type``, ``undecodable``); nothing from fastavro leaks out of this module.
Records are written by a writer generated per schema version (:mod:`~crossbound.codec.writercode`:
fastavro's bytes, at a fraction of its cost), or by fastavro where no writer could be generated. They are
read, when written with their subject's current version, by a reader generated per schema
(:mod:`~crossbound.codec.readercode`: fastavro's records, or a refusal); an older version is read into
the current one by fastavro (schema resolution), as is any schema no reader could be generated for.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from io import BytesIO
from typing import Any, cast

from fastavro import schemaless_reader, schemaless_writer

from crossbound.codec.framing import Framing, SingleObjectFraming
from crossbound.codec.readercode import Reader, compile_reader
from crossbound.codec.registry import SchemaRegistry, SchemaVersion
from crossbound.codec.writercode import Writer, compile_writer
from crossbound.errors import DecodeError, SchemaError

__all__ = ["Codec"]


class Codec:
    """Encode and decode framed Avro records against one registry."""

    def __init__(
        self,
        registry: SchemaRegistry,
        max_record_bytes: int = 1_000_000,
        framing: Framing | None = None,
    ) -> None:
        self.registry = registry
        self.max_record_bytes = max_record_bytes
        self.framing: Framing = SingleObjectFraming() if framing is None else framing
        # per framing key: the writer version, the reader schema (None when the writer is current), and
        # the generated reader (None: fastavro reads it)
        self._by_key: dict[bytes, tuple[SchemaVersion, Any, Reader | None]] = {}
        # per subject: its current version, header and generated writer (None: fastavro writes it)
        self._writers: dict[str, tuple[SchemaVersion, bytes, Writer | None]] = {}
        for subject in registry.subjects:
            current = registry.current(subject)
            writer = compile_writer(current.parsed)
            self._writers[subject] = current, self.framing.header(current), writer
            for ver in registry.versions(subject):
                key = self.framing.key(ver)
                clash = self._by_key.get(key)
                if clash is not None:
                    raise SchemaError(ver.path, f"same framing key as {clash[0].path}")
                if ver is current:
                    self._by_key[key] = (ver, None, compile_reader(ver.parsed))
                else:
                    self._by_key[key] = (ver, current.parsed, None)

    def encode(self, subject: str, record: Mapping[str, Any]) -> bytes:
        """Encode ``record`` with the current version of ``subject``."""
        found = self._writers.get(subject)
        if found is None:
            return self.encode_with(self.registry.current(subject), record)  # raises: not a subject
        version, header, writer = found
        if writer is not None:
            return writer(header, record)
        return self.encode_with(version, record)

    def encode_with(self, version: SchemaVersion, record: Mapping[str, Any]) -> bytes:
        """Encode ``record`` with one given schema version, by fastavro (tests use it to write old
        versions, and to check the generated writers against it)."""
        out = BytesIO()
        out.write(self.framing.header(version))
        schemaless_writer(out, version.parsed, record)
        return out.getvalue()

    def peek(self, data: bytes) -> SchemaVersion:
        """The schema version a record was written with, checking the header only."""
        return self._by_key_of(data)[0]

    def decode_input(
        self, data: bytes, expected: Collection[str] | None = None
    ) -> tuple[SchemaVersion, dict[str, Any]]:
        """:meth:`decode` a record from outside, refusing it (``too_large``) over ``max_record_bytes``."""
        if len(data) > self.max_record_bytes:
            raise DecodeError(
                "too_large", f"record of {len(data)} bytes exceeds the {self.max_record_bytes} limit"
            )
        return self.decode(data, expected)

    def decode(
        self, data: bytes, expected: Collection[str] | None = None
    ) -> tuple[SchemaVersion, dict[str, Any]]:
        """Decode ``data`` into the current version of its subject, whatever its size.

        ``expected`` limits which subjects are acceptable (e.g. only ``core/request`` on a requests topic).
        """
        version, reader, generated = self._by_key_of(data)
        if expected is not None and version.subject not in expected:
            raise DecodeError("wrong_record_type", f"a {version.subject} record is not expected here")
        if generated is not None:
            try:
                # bytes: a slice of a bytearray or memoryview would not be the bytes fastavro returns
                record, end = generated(data if type(data) is bytes else bytes(data), self.framing.header_len)
            except Exception as exc:
                raise DecodeError(
                    "undecodable", f"body does not decode as {version.subject} v{version.version}"
                ) from exc
            if end != len(data):
                raise DecodeError("undecodable", f"{len(data) - end} trailing bytes after the record")
            return version, record
        body = BytesIO(data)
        body.seek(self.framing.header_len)
        try:
            read = schemaless_reader(body, version.parsed, reader)
        except Exception as exc:
            raise DecodeError(
                "undecodable", f"body does not decode as {version.subject} v{version.version}"
            ) from exc
        if body.tell() != len(data):
            raise DecodeError("undecodable", f"{len(data) - body.tell()} trailing bytes after the record")
        return version, cast(dict[str, Any], read)  # every subject's top level is a record

    def _by_key_of(self, data: bytes) -> tuple[SchemaVersion, Any, Reader | None]:
        key = self.framing.peek(data)
        found = self._by_key.get(key)
        if found is None:
            # not the key itself: its bytes are the producer's, and a detail never quotes input bytes
            raise DecodeError("unknown_schema", "the header names no schema this registry knows")
        return found
