"""The shapes of the records, as the schemas under ``schemas/`` define them: for the type checker.

Each TypedDict is one Avro record (Avro name in its docstring) in its decoded form, which is also what
:meth:`~crossbound.codec.Codec.encode` takes: timestamps are aware ``datetime``, bytes are ``bytes``,
enums are their symbols. The pipeline reads and builds its records through them, so a misspelt field
is a type error rather than a KeyError in production. ``tests/unit/codec/test_codec_records.py`` checks that
the keys match the current schemas' fields, so a schema change that is not made here fails a test.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict

__all__ = [
    "AnsweredRequest",
    "Attestation",
    "AttestationRequest",
    "Consent",
    "DeadLetter",
    "Finding",
    "Fingerprint",
    "Institution",
    "PendingRequest",
    "QuotaCheck",
    "QuotaStep",
    "QuotaUsage",
    "Request",
    "StoredFinding",
    "Verdict",
    "WindowTotal",
    "fingerprint_fault",
]

SideSymbol = Literal["HK", "SZ"]
DigestAlg = Literal["SHA256", "SM3"]


class Institution(TypedDict):
    """``crossbound.Institution``: an institution by a public identifier, never a person."""

    scheme: Literal["LEI", "BIC", "USCC", "HK_BRN"]
    id: str
    city: str | None


class Consent(TypedDict):
    """``crossbound.Consent``: the subject's consent the request relies on."""

    consent_id: str
    subject_ref_hmac: str
    purpose_codes: list[str]
    recipient_inst: Institution
    pi_categories: list[str]
    separate_xb_consent: bool
    granted_at: datetime
    expires_at: datetime
    withdrawn: bool
    legal_basis: Literal["CONSENT", "CONTRACT_NECESSITY", "GBA_SC", "SCC_FILED"]


class Fingerprint(TypedDict):
    """``crossbound.Fingerprint`` (``core/fingerprint``): a document fingerprint on a registry topic."""

    digest: str
    digest_alg: DigestAlg
    document_type: str
    issuer_side: SideSymbol
    issuer: Institution
    subject_ref_hmac: str
    hmac_key_id: str
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    revoked: bool
    revoked_at: datetime | None
    revocation_reason: str | None
    sequence: int


def fingerprint_fault(fp: Fingerprint) -> str | None:
    """Why the fields of ``fp`` contradict each other, or None: what the worker refuses as
    ``fingerprint_inconsistent`` and an issuing client checks before it sends."""
    if fp["valid_until"] <= fp["valid_from"]:
        return "valid_until must be after valid_from"
    if fp["revoked"] != (fp["revoked_at"] is not None):
        return "revoked_at must be set exactly when revoked is true"
    return None


class Request(TypedDict):
    """``crossbound.Request`` (``core/request``); ``payload`` is the framed scenario request."""

    request_id: str
    scenario_id: str
    scenario_version: str
    requester_side: SideSymbol
    attester_side: SideSymbol
    requester_inst: Institution
    attester_inst: Institution
    created_at: datetime
    expires_at: datetime
    digest_alg: DigestAlg
    hmac_key_id: str
    nonce: str
    consent: Consent | None
    payload: bytes


class Attestation(TypedDict):
    """``crossbound.Attestation`` (``core/attestation``): the data holder's answer."""

    request_id: str
    scenario_id: str
    attester_side: SideSymbol
    attester_inst: Institution
    attested_at: datetime
    status: Literal["FOUND", "NOT_FOUND", "REFUSED"]
    payload: bytes | None


class AttestationRequest(TypedDict):
    """``crossbound.AttestationRequest`` (``core/attestation_request``): what the data holder is asked."""

    request_id: str
    scenario_id: str
    ruleset_version: str
    requester_side: SideSymbol
    attester_side: SideSymbol
    requester_inst: Institution
    attester_inst: Institution
    request_created_at: datetime
    deadline: datetime
    digest_alg: DigestAlg
    hmac_key_id: str
    nonce: str
    consent_id: str | None
    payload: bytes


class Finding(TypedDict):
    """``crossbound.Finding``: one failed rule in a verdict."""

    rule_id: str
    severity: Literal["REJECT", "REVIEW", "WARN"]
    field: str
    code: str


class Verdict(TypedDict):
    """``crossbound.Verdict`` (``core/verdict``)."""

    request_id: str
    scenario_id: str
    ruleset_version: str
    requester_side: SideSymbol
    attester_side: SideSymbol
    outcome: Literal["ACCEPT", "REVIEW", "REJECT"]
    findings: list[Finding]
    attested: dict[str, str]
    request_created_at: datetime
    decided_at: datetime
    crossbound_version: str


class DeadLetter(TypedDict):
    """``crossbound.DeadLetter`` (``core/deadletter``): a record that could not be processed."""

    reason: str
    detail: str
    source_topic: str
    source_partition: int
    source_offset: int
    source_timestamp: datetime | None
    key: bytes | None
    value: bytes | None
    value_size: int
    request_id: str | None
    scenario_id: str | None
    failed_at: datetime
    crossbound_version: str


class StoredFinding(TypedDict):
    """``crossbound.internal.StoredFinding`` (and ``QuotaFinding``): a finding kept between stages."""

    rule_id: str
    severity: str
    field: str
    code: str


class PendingRequest(TypedDict):
    """``crossbound.internal.PendingRequest`` (``internal/pending_request``): a parked request."""

    request: bytes
    body_sha256: bytes
    source_topic: str
    source_partition: int
    source_offset: int
    received_at: int
    deadline: int
    scenario_id: str
    findings: list[StoredFinding]


class QuotaStep(TypedDict):
    """``crossbound.internal.QuotaStep``: one hop still to visit, and its key."""

    index: int
    key: str


class QuotaCheck(TypedDict):
    """``crossbound.internal.QuotaCheck`` (``internal/quota_check`` v2): a request on its stateful hops."""

    request_id: str
    quota_key: str
    steps: list[QuotaStep]
    new_members: list[str]
    request: bytes
    findings: list[StoredFinding]
    attested: dict[str, str]
    source_topic: str
    source_partition: int


class WindowTotal(TypedDict):
    """``crossbound.internal.WindowTotal``: a quota window's period and its running total (a decimal)."""

    period: int
    total: str


class QuotaUsage(TypedDict):
    """``crossbound.internal.QuotaUsage`` (``internal/quota_usage`` v3): the state at one key."""

    windows: dict[str, WindowTotal]
    members: dict[str, list[str]]
    replies: bytes | None
    counted: bytes | None
    touched_at: int


class AnsweredRequest(TypedDict):
    """``crossbound.internal.AnsweredRequest`` (``internal/answered_request``): kept for replay."""

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
