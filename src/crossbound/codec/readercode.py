"""A schema's Avro reader as one generated Python function, built once per schema version at start-up.

fastavro's ``schemaless_reader`` parses the schema again on every call, then walks it, reading each
value through a file object: about 40 µs for a request record. The schemas here are fixed at start-up
and use only unions of ``null`` and one other type, so a record's layout is known in advance: the
generated reader is a straight run of reads from ``bytes`` at an offset, with a loop only per array or
map block, and returns the same dicts fastavro returns (the same keys in the same order, the same
types; each logical type through fastavro's own ``LOGICAL_READERS``: timestamps as aware datetimes,
dates, decimals).

Inputs come from anyone, so for every byte string the generated reader either returns the record
fastavro returns or raises. Where fastavro raises, it raises too: a truncated value, a string or bytes
length that is negative or runs past the end, bad UTF-8, a union or enum index past the last branch or
symbol, an out-of-range timestamp or date. A forged length or block count is checked against the bytes
left before anything is allocated. Where fastavro accepts something odd it matches it: any non-zero
byte as ``true``, a varint that is not the shortest, a negative block count followed by its size, an
``int`` beyond 32 bits (fastavro reads ints and longs alike), a 10-byte varint's bits past 64 dropped.
It refuses, with :class:`StricterThanFastavro`, the few inputs fastavro reads as garbage: a varint
longer than 10 bytes (fastavro shifts past 64 bits), a negative union or enum index (fastavro indexes
from the end of its list), and the block count -2**63 (fastavro's negation overflows to an empty block).

A schema with anything else (a union of two non-null types, a recursive type, an array whose items may
take no bytes at all, so that a forged count could not be bounded by the input's length) gets no
generated reader, and :class:`~crossbound.codec.codec.Codec` keeps fastavro's for it, as it does for a
writer version read into a newer reader schema. ``tests/unit/codec/test_codec_readercode.py`` checks
both agree on generated records of every shipped schema and on hostile bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

from fastavro.read import LOGICAL_READERS

from crossbound.codec.codegen import CodeGen

__all__ = ["Reader", "StricterThanFastavro", "compile_reader", "read_long"]

Reader = Callable[[bytes, int], tuple[dict[str, Any], int]]
"""``reader(data, offset)``: the record whose Avro body starts at ``offset``, and the offset after it."""

_PRIMITIVE = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_MASK64 = (1 << 64) - 1
_ZIGZAG = tuple((b >> 1) ^ -(b & 1) for b in range(128))  # a one-byte varint's value


class StricterThanFastavro(ValueError):
    """An input fastavro would read as garbage (see the module's text), refused here."""


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """An Avro ``long`` at ``pos``, read as fastavro reads it (its 64-bit arithmetic), and the offset
    after it; a varint longer than 10 bytes is refused, a truncated one raises ``IndexError``."""
    b = data[pos]
    pos += 1
    n = b & 0x7F
    shift = 7
    while b & 0x80:
        if shift > 63:
            raise StricterThanFastavro("a varint longer than 10 bytes")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
    n &= _MASK64
    return (n >> 1) ^ -(n & 1), pos


def _bad_index(index: int, size: int) -> None:
    if -size <= index < 0:  # fastavro counts it from the end of its list
        raise StricterThanFastavro(f"negative index {index}")
    raise IndexError(f"index {index} out of the range of {size}")


def _bad_count(count: int, left: int) -> None:
    if count == 1 << 63:  # fastavro's negation of -2**63 overflows back to itself: an empty block
        raise StricterThanFastavro("block count -2**63")
    raise EOFError(f"a block of {count} items in {left} bytes")


def _eof(what: str, size: int, left: int) -> None:
    raise EOFError(f"{what} of {size} bytes with {left} left")


class _Unsupported(Exception):
    """The schema has a form this generator does not read: fastavro reads it."""


class _Gen(CodeGen):
    CONST_PREFIX = "K"
    WHAT = "reader"

    def __init__(self, named: Mapping[str, Any]) -> None:
        super().__init__(
            named,
            {
                "_Z": _ZIGZAG,
                "_long": read_long,
                "_bad_index": _bad_index,
                "_bad_count": _bad_count,
                "_eof": _eof,
                "_float": struct.Struct("<f").unpack_from,
                "_double": struct.Struct("<d").unpack_from,
            },
        )

    def resolve(self, schema: Any) -> Any:
        """``schema`` with a primitive's name as its dict form and a named type's reference as its
        definition (a union stays a list)."""
        if isinstance(schema, str):
            if schema in _PRIMITIVE:
                return {"type": schema}
            if schema in self.named:
                return self.named[schema]
            raise _Unsupported(f"unknown type {schema}")
        if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
            raise _Unsupported("a type nested in a type")
        return schema

    def min_size(self, schema: Any, seen: frozenset[str] = frozenset()) -> int:
        """The fewest bytes a value of ``schema`` is written in."""
        if isinstance(schema, list):
            return 1
        if isinstance(schema, str) and schema in self.named:
            if schema in seen:
                raise _Unsupported(f"recursive type {schema}")
            seen = seen | {schema}
        schema = self.resolve(schema)
        kind = schema["type"]
        fixed = {"null": 0, "float": 4, "double": 8}
        if kind == "record":
            return sum(self.min_size(f["type"], seen) for f in schema["fields"])
        if kind == "fixed":
            return int(schema["size"])
        return fixed.get(kind, 1)

    def long(self, target: str, pad: str) -> None:
        """Lines that read a long at ``pos`` into ``target``."""
        b = self.var("b")
        self.lines += [
            f"{pad}{b} = data[pos]",
            f"{pad}if {b} < 128:",
            f"{pad}    {target} = _Z[{b}]",
            f"{pad}    pos += 1",
            f"{pad}else:",
            f"{pad}    {target}, pos = _long(data, pos)",
        ]

    def emit(self, schema: Any, target: str, pad: str) -> None:
        """Lines that read a value of ``schema`` at ``pos`` into ``target``, moving ``pos`` past it."""
        add = self.lines.append
        if isinstance(schema, list):
            self._union(schema, target, pad)
            return
        if isinstance(schema, str) and schema in self.named:
            if schema in self.open:
                raise _Unsupported(f"recursive type {schema}")
            self.open.add(schema)
            self.emit(self.named[schema], target, pad)
            self.open.discard(schema)
            return
        schema = self.resolve(schema)
        kind = schema["type"]
        logical = schema.get("logicalType")
        convert = LOGICAL_READERS.get(f"{kind}-{logical}") if logical else None
        raw = self.var("x") if convert is not None else target
        if kind == "null":
            add(f"{pad}{raw} = None")
        elif kind == "boolean":
            add(f"{pad}{raw} = data[pos] != 0")
            add(f"{pad}pos += 1")
        elif kind in ("int", "long"):
            self.long(raw, pad)
        elif kind in ("float", "double"):
            add(f"{pad}{raw} = _{kind}(data, pos)[0]")
            add(f"{pad}pos += {4 if kind == 'float' else 8}")
        elif kind in ("bytes", "string"):
            n, e = self.var("n"), self.var("e")
            self.long(n, pad)
            add(f"{pad}{e} = pos + {n}")
            add(f"{pad}if {n} < 0 or {e} > end:")
            add(f"{pad}    _eof({kind!r}, {n}, end - pos)")
            add(f"{pad}{raw} = data[pos:{e}]{'.decode()' if kind == 'string' else ''}")
            add(f"{pad}pos = {e}")
        elif kind == "fixed":
            e = self.var("e")
            add(f"{pad}{e} = pos + {int(schema['size'])}")
            add(f"{pad}if {e} > end:")
            add(f"{pad}    _eof('fixed', {int(schema['size'])}, end - pos)")
            add(f"{pad}{raw} = data[pos:{e}]")
            add(f"{pad}pos = {e}")
        elif kind == "enum":
            self._enum(schema["symbols"], raw, pad)
        elif kind == "record":
            self._record(schema, raw, pad)
        elif kind in ("array", "map"):
            self._blocks(schema, raw, pad)
        else:
            raise _Unsupported(f"type {kind}")
        if convert is not None:
            add(f"{pad}{target} = {self.const(convert)}({raw}, {self.const(schema)})")

    def _enum(self, symbols: list[str], target: str, pad: str) -> None:
        # the symbol for each possible first byte: a one-byte index in range, else None (read it whole)
        table: list[str | None] = [None] * 256
        for n, symbol in enumerate(symbols[:64]):
            table[2 * n] = symbol
        k, i = self.const(tuple(table)), self.var("i")
        self.lines += [
            f"{pad}{target} = {k}[data[pos]]",
            f"{pad}if {target} is None:",
        ]
        self.long(i, pad + "    ")
        self.lines += [
            f"{pad}    if not 0 <= {i} < {len(symbols)}:",
            f"{pad}        _bad_index({i}, {len(symbols)})",
            f"{pad}    {target} = {self.const(tuple(symbols))}[{i}]",
            f"{pad}else:",
            f"{pad}    pos += 1",
        ]

    def _union(self, branches: list[Any], target: str, pad: str) -> None:
        others = [i for i, b in enumerate(branches) if b != "null"]
        if len(branches) != 2 or len(others) != 1:
            raise _Unsupported("a union other than null and one type")
        i = self.var("i")
        self.long(i, pad)
        self.lines.append(f"{pad}if {i} == {others[0]}:")
        self.emit(branches[others[0]], target, pad + "    ")
        self.lines += [
            f"{pad}elif {i} == {1 - others[0]}:",
            f"{pad}    {target} = None",
            f"{pad}else:",
            f"{pad}    _bad_index({i}, 2)",
        ]

    def _record(self, schema: Mapping[str, Any], target: str, pad: str) -> None:
        fields = []
        for f in schema["fields"]:
            v = self.var("f")
            self.emit(f["type"], v, pad)
            fields.append(f"{f['name']!r}: {v}")
        self.lines.append(f"{pad}{target} = {{{', '.join(fields)}}}")

    def _blocks(self, schema: Mapping[str, Any], target: str, pad: str) -> None:
        """An array or a map: blocks of a count (negative: then a byte size, unused) and its items,
        until a zero count. Each item takes a byte at least, so a count past the bytes left is refused
        before anything is read."""
        is_map = schema["type"] == "map"
        item = schema["values"] if is_map else schema["items"]
        if not is_map and self.min_size(item) == 0:
            raise _Unsupported("array items that may take no bytes")
        c, size, x, key = self.var("c"), self.var("s"), self.var("v"), self.var("k")
        inner = pad + "        "
        self.lines.append(f"{pad}{target} = {{}}" if is_map else f"{pad}{target} = []")
        self.long(c, pad)
        self.lines += [f"{pad}while {c}:", f"{pad}    if {c} < 0:"]
        self.long(size, pad + "        ")
        self.lines += [
            f"{pad}        {c} = -{c}",
            f"{pad}    if {c} > end - pos:",
            f"{pad}        _bad_count({c}, end - pos)",
            f"{pad}    for _ in range({c}):",
        ]
        if is_map:
            self.emit("string", key, inner)
        self.emit(item, x, inner)
        self.lines.append(f"{inner}{target}[{key}] = {x}" if is_map else f"{inner}{target}.append({x})")
        self.long(c, pad + "    ")


def compile_reader(writer: Mapping[str, Any], reader: Any = None) -> Reader | None:
    """The generated reader of a schema parsed by fastavro, or None where fastavro must read it (any
    ``reader`` schema other than the writer's own: schema resolution stays fastavro's)."""
    if reader is not None and reader != writer:
        return None
    gen = _Gen(writer.get("__named_schemas", {}))
    try:
        gen.emit(writer, "record", "    ")
    except _Unsupported:
        return None
    fn: Reader = gen.function("read", "data, pos", "end = len(data)", "record, pos")
    return fn
