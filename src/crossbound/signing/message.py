"""The exact bytes a signature covers: a versioned, length-prefixed concatenation (format 1).

Every field is written as its length (4 bytes, unsigned, big-endian) followed by its bytes, so no two
different field lists give the same bytes (no separator can be forged into a field). In order:

1. the domain-separation tag ``crossbound-signature``: a crossbound record signature can never be
   mistaken for (or replayed as) a signature the same key makes for anything else;
2. the format version, ``1``;
3. the algorithm as the registry names it (``Ed25519``): the signature says what verifies it;
4. the key id (ASCII);
5. the signing time, epoch milliseconds, as 8 bytes signed big-endian;
6. the side the record belongs to, as records spell it (``HK``, ``SZ``);
7. the record kind: ``request``, ``attestation``, ``verdict``, ``attestation_request``,
   ``audit_checkpoint`` or ``fingerprint``;
8. the record's Kafka key (the request id's UTF-8 bytes; a fingerprint's digest);
9. the record's value, exactly as produced.

Fields 6-8 are the *binding*: what the record is bound to. Not the full topic name: a deployment's
topic prefix and layout (``shared`` or ``per_institution``) are operator choices, and an integrator
who records traffic and replays it under another prefix (``crossbound record`` / ``replay``, a test
deployment) must still see it verify. Side and kind are what a topic means; a signed request cannot
pass for an attestation, nor a record of one side for the other's, and the key ties the signature to
the request id the record is answered under.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from crossbound.domain import Side
from crossbound.participants import Algorithm

__all__ = ["FORMAT_VERSION", "TAG", "Binding", "RecordKind", "signed_bytes"]

TAG: Final = b"crossbound-signature"
FORMAT_VERSION: Final = 1
_LENGTH = struct.Struct(">I")
_TIME = struct.Struct(">q")


class RecordKind(StrEnum):
    """What a signed record is: the inputs institutions sign, the outputs the worker signs."""

    REQUEST = "request"
    ATTESTATION = "attestation"
    VERDICT = "verdict"
    ATTESTATION_REQUEST = "attestation_request"
    AUDIT_CHECKPOINT = "audit_checkpoint"  # a side's audit chain heads (crossbound.audit.checkpoint)
    FINGERPRINT = "fingerprint"  # a data source's registry record (crossbound.pipeline.fingerprints)


@dataclass(frozen=True, slots=True)
class Binding:
    """What a record is bound to: its side, its kind and its Kafka key (see the module docstring)."""

    side: Side
    kind: RecordKind
    key: bytes


def _field(data: bytes) -> bytes:
    return _LENGTH.pack(len(data)) + data


def signed_bytes(
    algorithm: Algorithm, key_id: str, signed_at_ms: int, binding: Binding, value: bytes
) -> bytes:
    """The bytes that ``key_id`` signs (with ``algorithm``, at ``signed_at_ms``) for ``value``."""
    return b"".join(
        _field(part)
        for part in (
            TAG,
            str(FORMAT_VERSION).encode(),
            algorithm.value.encode(),
            key_id.encode("ascii"),
            _TIME.pack(signed_at_ms),
            binding.side.value.encode(),
            binding.kind.value.encode(),
            binding.key,
            value,
        )
    )
