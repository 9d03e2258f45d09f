"""The shapes of the records the pipeline reads and builds, for the type checker (Avro names unchanged).

The codec hands out and takes plain dicts; these TypedDicts name their fields, so that a misspelt field
is a type error rather than a KeyError in production; ``as_avro`` hands a typed record to the codec.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from crossbound.rules.stateful import Window

__all__ = [
    "AnsweredRecord",
    "Applied",
    "AttestationRecord",
    "HopRecord",
    "HopStep",
    "PendingRecord",
    "RequestRecord",
    "StoredFinding",
    "UsageRecord",
    "as_avro",
]


class StoredFinding(TypedDict):
    """A finding as records keep it (``rules.Finding.as_record``)."""

    rule_id: str
    severity: str
    field: str
    code: str


class RequestRecord(TypedDict):
    """``crossbound.core.Request``: the envelope a requester sends."""

    request_id: str
    scenario_id: str
    scenario_version: str
    requester_side: str
    attester_side: str
    requester_inst: dict[str, Any]
    attester_inst: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    digest_alg: str
    hmac_key_id: str
    nonce: str
    consent: dict[str, Any] | None
    payload: bytes


class AttestationRecord(TypedDict):
    """``crossbound.core.Attestation``: the other side's answer."""

    request_id: str
    scenario_id: str
    attester_side: str
    attester_inst: dict[str, Any]
    attested_at: datetime
    status: str
    payload: bytes | None


class PendingRecord(TypedDict):
    """``crossbound.internal.PendingRequest``: a request parked until its attestation or deadline."""

    request: bytes
    body_sha256: bytes
    source_topic: str
    source_partition: int
    source_offset: int
    received_at: int
    deadline: int
    scenario_id: str
    findings: list[StoredFinding]


class AnsweredRecord(TypedDict):
    """``crossbound.internal.AnsweredRequest``: where a request came from and what answered it."""

    body_sha256: bytes
    source_topic: str
    source_partition: int
    source_offset: int
    attestation_partition: int
    attestation_offset: int
    output_topic: str
    output_partition: int | None
    output_key: bytes | None
    output_value: bytes


class HopStep(TypedDict):
    """One stateful hop still to visit: the step's index in the rule set, and its partition key."""

    index: int
    key: str


class HopRecord(TypedDict):
    """``crossbound.internal.QuotaCheck``: a request on its way through its stateful hops."""

    request_id: str
    quota_key: str
    steps: list[HopStep]
    new_members: list[str]
    request: bytes
    findings: list[StoredFinding]
    attested: dict[str, str]
    source_topic: str
    source_partition: int


class Applied(TypedDict):
    """What a ledger or members hop produced for a request (its redelivery answers the same)."""

    day: int
    partition: int | None
    verdict: bytes
    topic: str
    key: bytes | None


class UsageRecord(TypedDict):
    """``crossbound.internal.QuotaUsage``: the state at one hop key."""

    windows: dict[str, Window]
    members: dict[str, list[str]]
    applied: dict[str, Applied]
    recent: list[str]


def as_avro(record: Any) -> dict[str, Any]:
    """A typed record as the codec takes it (the same object)."""
    return cast(dict[str, Any], record)
