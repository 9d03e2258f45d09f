"""Requests, attestations and fingerprints in JSON form → the (topic, key, value) one would publish.

One place for what the Harness, the live bus and the tests' transports all do before they publish:
validate and encode the JSON form, key the record by its request id, and put it on its side's topic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crossbound.codec import Codec
from crossbound.codec.jsonform import Catalogue, attestation_from_json, from_json, request_from_json
from crossbound.domain import Side
from crossbound.topics import Topics

__all__ = ["encode_attestation", "encode_fingerprint", "encode_request"]


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
    """The issuer side's registry topic, the digest (the record key) and the encoded fingerprint."""
    record = from_json(fingerprint, codec.registry.current("core/fingerprint").raw)
    topic = topics.fingerprints(Side(record["issuer_side"]).topic)
    return topic, record["digest"].encode(), codec.encode("core/fingerprint", record)
