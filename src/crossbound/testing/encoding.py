"""Requests, attestations and fingerprints in JSON form → the (topic, key, value) one would publish.

One place for what the Harness, the live bus and the tests' transports all do before they publish:
validate and encode the JSON form, key the record by its request id, and put it on its side's topic;
and, where the deployment checks signatures, sign it as the institution it names (:class:`Keyring`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossbound.codec import Codec
from crossbound.codec.jsonform import Catalogue, attestation_from_json, from_json, request_from_json
from crossbound.domain import Side
from crossbound.errors import DecodeError
from crossbound.participants import Registry
from crossbound.signing import Binding, RecordKind, Signer
from crossbound.topics import Topics

__all__ = ["Keyring", "encode_attestation", "encode_fingerprint", "encode_request"]

Headers = tuple[tuple[str, bytes], ...]
_SIGNED = {  # subject -> kind, the institution field that signs it, the side field
    "core/request": (RecordKind.REQUEST, "requester_inst", "requester_side"),
    "core/attestation": (RecordKind.ATTESTATION, "attester_inst", "attester_side"),
    "core/fingerprint": (RecordKind.FINGERPRINT, "issuer", "issuer_side"),
}


@dataclass(frozen=True, slots=True)
class Keyring:
    """Institutions' signers by ``(scheme, id)``: a request is signed as its requester, an attestation
    as its attester, a fingerprint as its issuer (what an honest institution does; a test that forges
    builds its own headers)."""

    signers: Mapping[tuple[str, str], Signer]

    @classmethod
    def from_key_dir(cls, registry: Registry, directory: Path) -> Keyring:
        """The signer of every participant whose first key is in ``directory`` as
        ``<key_id>.private.pem`` (as ``crossbound registry generate`` writes them); others sign nothing."""
        return cls(
            {
                (p.scheme.value, p.identifier): Signer.from_pem_file(path, p.keys[0].key_id)
                for p in registry.participants
                if p.keys and (path := directory / f"{p.keys[0].key_id}.private.pem").is_file()
            }
        )

    def headers(self, codec: Codec, key: bytes, value: bytes, now_ms: int) -> Headers:
        """The signature header of an encoded request, attestation or fingerprint; () when its
        institution has no signer here (or the bytes are none of these)."""
        try:
            version, record = codec.decode(value)
        except DecodeError:  # bytes a test sends on purpose: sent unsigned
            return ()
        if version.subject not in _SIGNED:
            return ()
        kind, inst_field, side_field = _SIGNED[version.subject]
        inst = record[inst_field]
        signer = self.signers.get((inst["scheme"], inst["id"]))
        if signer is None:
            return ()
        return signer.headers(value, Binding(Side(record[side_field]), kind, key), now_ms)


def encode_request(
    request: Mapping[str, Any], codec: Codec, catalogue: Catalogue, topics: Topics
) -> tuple[str, bytes, bytes]:
    """The requester side's requests topic, the request id and the encoded request."""
    record = request_from_json(request, codec, catalogue)
    topic = topics.requests(Side(record["requester_side"]).topic)
    return topic, record["request_id"].encode(), codec.encode("core/request", record)


def encode_attestation(
    attestation: Mapping[str, Any], codec: Codec, catalogue: Catalogue, topics: Topics
) -> tuple[str, bytes, bytes]:
    """The attester side's attestations topic, the request id and the encoded attestation."""
    record = attestation_from_json(attestation, codec, catalogue)
    topic = topics.attestations(Side(record["attester_side"]).topic)
    return topic, record["request_id"].encode(), codec.encode("core/attestation", record)


def encode_fingerprint(
    fingerprint: Mapping[str, Any], codec: Codec, topics: Topics
) -> tuple[str, bytes, bytes]:
    """The issuer's registry topic (its own under ``per_institution``), the digest (the record key)
    and the encoded fingerprint."""
    record = from_json(fingerprint, codec.registry.current("core/fingerprint").raw)
    topic = topics.registry_for(Side(record["issuer_side"]).topic, record["issuer"])
    return topic, record["digest"].encode(), codec.encode("core/fingerprint", record)
