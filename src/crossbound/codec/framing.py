"""How a record names its schema on the wire, ahead of the Avro body: the codec's one framing seam.

A :class:`Framing` writes the header for a schema version and reads the lookup key back out of a
header; the :class:`~crossbound.codec.Codec` indexes the registry by that key. The registry knows
nothing of framing. :class:`SingleObjectFraming` is Avro's single-object encoding, the only framing
crossbound writes: ``C3 01``, then the schema's 8-byte little-endian CRC-64-AVRO fingerprint. Another
wire format (Confluent's ``00`` + 4-byte schema id, say) is one more class with these four members.
"""

from __future__ import annotations

from typing import Final, Protocol

from crossbound.codec.registry import SchemaVersion
from crossbound.errors import DecodeError

__all__ = ["MAGIC", "Framing", "SingleObjectFraming"]

MAGIC: Final = b"\xc3\x01"


class Framing(Protocol):
    """A wire header that names the schema a body was written with."""

    @property
    def header_len(self) -> int:
        """How many bytes the header takes; the Avro body starts right after."""
        ...

    def header(self, version: SchemaVersion) -> bytes:
        """The header to write before a body encoded with ``version``."""
        ...

    def key(self, version: SchemaVersion) -> bytes:
        """The lookup key that ``version``'s header carries (what :meth:`peek` reads back)."""
        ...

    def peek(self, data: bytes) -> bytes:
        """The lookup key in ``data``'s header; :class:`DecodeError` ``bad_magic`` if there is none."""
        ...


class SingleObjectFraming:
    """Avro single-object encoding: ``C3 01`` and the writer schema's CRC-64-AVRO fingerprint."""

    header_len: Final = len(MAGIC) + 8

    def header(self, version: SchemaVersion) -> bytes:
        """``C3 01`` then the 8-byte fingerprint."""
        return MAGIC + version.fingerprint

    def key(self, version: SchemaVersion) -> bytes:
        """The fingerprint."""
        return version.fingerprint

    def peek(self, data: bytes) -> bytes:
        """The fingerprint after ``C3 01``."""
        if len(data) < self.header_len or data[: len(MAGIC)] != MAGIC:
            raise DecodeError(
                "bad_magic", "not Avro single-object encoding (expected C3 01 and a fingerprint)"
            )
        return data[len(MAGIC) : self.header_len]
