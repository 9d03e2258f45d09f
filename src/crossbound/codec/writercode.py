"""A schema's Avro writer as one generated Python function, built once per schema version at start-up.

fastavro's ``schemaless_writer`` walks the schema for every record, and writes a union by validating
the value against each branch until one fits: for ``["null", Consent]`` that is a whole validation
of the consent record before it is written, so a request costs about twice as much to encode as to
decode, and a verdict takes about 7 encodes. The schemas here use only unions of ``null`` and one
other type, so the branch is plain from the value (None or not), and the rest of a record's layout
is fixed: generated once, a writer is a straight run of appends.

The bytes are fastavro's, for every value fastavro writes: the same zig-zag varints, one block per
non-empty array or map then a zero, a field's ``default`` for a missing field, ``float()`` on float
and double fields, and each logical type through fastavro's own ``LOGICAL_WRITERS`` (timestamps,
decimals). A schema with anything else (a union of two non-null types, a recursive type) gets no
generated writer, and :class:`~crossbound.codec.codec.Codec` keeps fastavro's for it.
``tests/unit/codec/test_codec_writercode.py`` checks both agree on generated records of every shipped
schema. A value fastavro would refuse is refused here too, though maybe with another exception type
(a ``KeyError`` for a missing field, where fastavro says ``ValueError``): the pipeline's records are
built to their schema, and its error policy names the type only for what it did not expect.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

from fastavro.write import LOGICAL_WRITERS

from crossbound.codec.codegen import CodeGen

__all__ = ["Writer", "compile_writer"]

Writer = Callable[[bytes, Mapping[str, Any]], bytes]
"""``writer(header, record)``: the header, then the record's Avro body."""

_PRIMITIVE = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_FLOAT = struct.Struct("<f").pack
_DOUBLE = struct.Struct("<d").pack


def zigzag(n: int) -> bytes:
    """An Avro ``long``: zig-zag, then a little-endian base-128 varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL_MAX = 4096  # lengths and counts below this: one cached bytes object each (a digest's 64 is two)
_SMALL = tuple(zigzag(n) for n in range(_SMALL_MAX))


class _Unsupported(Exception):
    """The schema has a form this generator does not write: fastavro writes it."""


class _Gen(CodeGen):
    WHAT = "writer"

    def __init__(self, named: Mapping[str, Any]) -> None:
        super().__init__(named, {"_zigzag": zigzag, "_S": _SMALL, "_FLOAT": _FLOAT, "_DOUBLE": _DOUBLE})

    def emit(self, schema: Any, expr: str, pad: str) -> None:
        """Lines that append ``expr``'s encoding, per ``schema``, to ``buf``."""
        add = self.lines.append
        if isinstance(schema, str):
            if schema in _PRIMITIVE:
                schema = {"type": schema}
            elif schema in self.named:
                if schema in self.open:
                    raise _Unsupported(f"recursive type {schema}")
                self.open.add(schema)
                self.emit(self.named[schema], expr, pad)
                self.open.discard(schema)
                return
            else:
                raise _Unsupported(f"unknown type {schema}")
        if isinstance(schema, list):
            self._union(schema, expr, pad)
            return
        kind = schema["type"]
        if isinstance(kind, (dict, list)) or (kind not in _PRIMITIVE and kind in self.named):
            self.emit(kind, expr, pad)
            return
        logical = schema.get("logicalType")
        prepare = LOGICAL_WRITERS.get(f"{kind}-{logical}") if logical else None
        if prepare is not None:
            v = self.var("p")
            add(f"{pad}{v} = {self.const(prepare)}({expr}, {self.const(schema)})")
            expr = v
        if kind == "null":
            return
        if kind == "boolean":
            add(f"{pad}buf += b'\\x01' if {expr} else b'\\x00'")
        elif kind in ("int", "long"):
            v = self.var("n")
            add(f"{pad}{v} = {expr}")
            add(f"{pad}buf += _S[{v}] if 0 <= {v} < {_SMALL_MAX} else _zigzag({v})")
        elif kind == "float":
            add(f"{pad}buf += _FLOAT({expr})")
        elif kind == "double":
            add(f"{pad}buf += _DOUBLE({expr})")
        elif kind in ("bytes", "string"):
            v = self.var("b")
            add(f"{pad}{v} = {expr}.encode()" if kind == "string" else f"{pad}{v} = {expr}")
            self._length(v, pad)
            add(f"{pad}buf += {v}")
        elif kind == "fixed":
            add(f"{pad}buf += {expr}")
        elif kind == "enum":
            index = {s: zigzag(i) for i, s in enumerate(schema["symbols"])}
            add(f"{pad}buf += {self.const(index)}[{expr}]")
        elif kind == "record":
            self._record(schema, expr, pad)
        elif kind == "array":
            v, item = self.var("a"), self.var("i")
            add(f"{pad}{v} = {expr}")
            add(f"{pad}if len({v}) > 0:")
            self._length(v, pad + "    ")
            add(f"{pad}    for {item} in {v}:")
            self.emit(schema["items"], item, pad + "        ")
            add(f"{pad}buf += b'\\x00'")
        elif kind == "map":
            v, key, val = self.var("m"), self.var("k"), self.var("v")
            add(f"{pad}{v} = {expr}")
            add(f"{pad}if len({v}) > 0:")
            self._length(v, pad + "    ")
            add(f"{pad}    for {key}, {val} in {v}.items():")
            self.emit("string", key, pad + "        ")
            self.emit(schema["values"], val, pad + "        ")
            add(f"{pad}buf += b'\\x00'")
        else:
            raise _Unsupported(f"type {kind}")

    def _length(self, v: str, pad: str) -> None:
        """The length of ``v`` as a long (never negative)."""
        n = self.var("n")
        self.lines.append(f"{pad}{n} = len({v})")
        self.lines.append(f"{pad}buf += _S[{n}] if {n} < {_SMALL_MAX} else _zigzag({n})")

    def _union(self, branches: list[Any], expr: str, pad: str) -> None:
        others = [i for i, b in enumerate(branches) if b != "null"]
        if len(branches) != 2 or len(others) != 1:
            raise _Unsupported("a union other than null and one type")
        v = self.var("u")
        add = self.lines.append
        add(f"{pad}{v} = {expr}")
        add(f"{pad}if {v} is None:")
        add(f"{pad}    buf += {zigzag(1 - others[0])!r}")
        add(f"{pad}else:")
        add(f"{pad}    buf += {zigzag(others[0])!r}")
        self.emit(branches[others[0]], v, pad + "    ")

    def _record(self, schema: Mapping[str, Any], expr: str, pad: str) -> None:
        r = self.var("r")
        self.lines.append(f"{pad}{r} = {expr}")
        for f in schema["fields"]:
            name, kind = f["name"], f["type"]
            if "default" in f:
                value = f"{r}.get({name!r}, {self.const(f['default'])})"
            elif "null" in kind:  # fastavro's test: a missing field of such a type is written as null
                value = f"{r}.get({name!r})"
            else:
                value = f"{r}[{name!r}]"
            if kind in ("float", "double"):
                value = f"float({value})"
            self.emit(kind, value, pad)


def compile_writer(parsed: Mapping[str, Any]) -> Writer | None:
    """The generated writer of a schema parsed by fastavro, or None where fastavro must write it."""
    gen = _Gen(parsed.get("__named_schemas", {}))
    try:
        gen.emit(parsed, "record", "    ")
    except _Unsupported:
        return None
    fn: Writer = gen.function("write", "header, record", "buf = bytearray(header)", "bytes(buf)")
    return fn
