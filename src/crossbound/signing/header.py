"""The one Kafka header that carries a signature: ``crossbound.signature``.

Its value is ASCII, five fields separated by ``;``::

    1;Ed25519;hsbchkhhhkh-1;1767225600000;<signature, standard base64 with padding>

format version, algorithm, key id, signing time (epoch ms, decimal) and the signature over
:func:`~crossbound.signing.message.signed_bytes`. One header rather than four so that a record holds
a signature whole or not at all; text so that it reads in ``kcat -J`` and any client can write it.
Parsing is strict: a record with the header twice, or a value that is not exactly this shape, is a
bad signature, never a guess.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from crossbound.participants import Algorithm
from crossbound.signing.message import FORMAT_VERSION

__all__ = ["HEADER", "BadHeader", "Signature", "find_header"]

HEADER: Final = "crossbound.signature"
_SHAPE = re.compile(
    r"^(?P<version>[0-9]{1,3});(?P<alg>[A-Za-z0-9]{1,16});(?P<kid>[A-Za-z0-9][A-Za-z0-9_.:-]{0,63});"
    r"(?P<ts>[0-9]{1,15});(?P<sig>[A-Za-z0-9+/]{1,684}={0,2})$"
)


class BadHeader(ValueError):
    """A signature header that does not parse; the message names the fault, never the value."""


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature as the header carries it."""

    algorithm: Algorithm
    key_id: str
    signed_at_ms: int
    signature: bytes

    def header_value(self) -> bytes:
        """The header's value."""
        sig = base64.b64encode(self.signature).decode()
        return f"{FORMAT_VERSION};{self.algorithm.value};{self.key_id};{self.signed_at_ms};{sig}".encode()

    @classmethod
    def parse(cls, value: bytes) -> Signature:
        """The signature in a header value; :class:`BadHeader` when it is not one."""
        try:
            text = value.decode("ascii")
        except UnicodeDecodeError:
            raise BadHeader("the signature header is not ASCII") from None
        m = _SHAPE.match(text)
        if m is None:
            raise BadHeader("the signature header is malformed")
        if int(m["version"]) != FORMAT_VERSION:
            raise BadHeader(f"the signature header is not format {FORMAT_VERSION}")
        try:
            algorithm = Algorithm(m["alg"])
        except ValueError:
            raise BadHeader("the signature header names an unsupported algorithm") from None
        try:
            sig = base64.b64decode(m["sig"], validate=True)
        except binascii.Error:
            raise BadHeader("the signature is not base64") from None
        return cls(algorithm, m["kid"], int(m["ts"]), sig)


def find_header(headers: Iterable[tuple[str, bytes]]) -> bytes | None:
    """The signature header's value; None when absent; :class:`BadHeader` when there are several."""
    found = [v for k, v in headers if k == HEADER]
    if len(found) > 1:
        raise BadHeader("the record has more than one signature header")
    return found[0] if found else None
