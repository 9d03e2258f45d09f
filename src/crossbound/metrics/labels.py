"""The label values every metric accepts, and the checks that keep labels to them.

A label never holds a request id, key or record value: each takes its values from a fixed set here
(or, for scenario and rule ids, a short name pattern), checked when a label child is first made.
"""

from __future__ import annotations

import re
from typing import Final

from crossbound.domain import Side

__all__ = [
    "AUDIT_RECORDS",
    "BLOCKED_REASONS",
    "BLOCKED_RECORDS",
    "DEAD_LETTER_REASON_PATTERN",
    "FINDING_SEVERITIES",
    "FINGERPRINT_RESULTS",
    "KINDS",
    "LATENCY_BUCKETS",
    "OUTCOMES",
    "OUTPUT_FAILURES",
    "OUTPUT_RECORDS",
    "RESET_WHAT",
    "SIDES",
    "SIGNATURE_REFUSALS",
    "TABLES",
    "UNREADABLE_WHERE",
    "WRITES",
    "check_member",
    "check_name",
]

SIDES: Final[frozenset[str]] = frozenset(side.topic for side in Side)
"""Values of the ``side`` label."""

KINDS: Final[frozenset[str]] = frozenset({"request", "attestation", "fingerprint"})
"""Values of the ``kind`` label of ``crossbound_records_total``."""

UNREADABLE_WHERE: Final[frozenset[str]] = frozenset({"pending", "answered", "usage", "quota", "fingerprints"})
"""Values of the ``where`` label of ``crossbound_unreadable_total``."""
TABLES: Final[frozenset[str]] = frozenset({"pending", "answered", "usage"})
"""Values of the ``table`` label of ``crossbound_pruned_total``."""

RESET_WHAT: Final[frozenset[str]] = frozenset({"cluster_id", "topics", "changelogs", "offsets"})
"""Values of the ``what`` label of ``crossbound_broker_reset_total``."""
BLOCKED_RECORDS: Final[frozenset[str]] = frozenset({"attestation_request", "verdict"})
WRITES: Final = frozenset({"pending", "answered", "quota_usage", "fingerprints"})  # table writes
OUTPUT_RECORDS: Final = WRITES | {
    "verdict",
    "attestation_request",
    "hop_record",
    "dead_letter",
    "audit_entry",
    "checkpoint",
}
FINGERPRINT_RESULTS: Final[frozenset[str]] = frozenset({"stored", "repeat"})
"""Values of the ``result`` label of ``crossbound_fingerprints_total``."""
OUTPUT_FAILURES: Final[frozenset[str]] = frozenset({"too_large", "refused", "lost"})
SIGNATURE_REFUSALS: Final[frozenset[str]] = frozenset(
    {"unsigned", "unknown_signer", "bad_signature", "key_expired", "not_authorised", "wrong_attester"}
)
"""Values of the ``reason`` label of ``crossbound_signature_refused_total``."""
AUDIT_RECORDS: Final[frozenset[str]] = frozenset({"entry", "checkpoint", "anchor"})
"""Values of the ``type`` label of ``crossbound_audit_records_total``."""
BLOCKED_REASONS: Final[frozenset[str]] = frozenset({"form", "range", "class", "pi"})
"""Values of the ``record`` and ``reason`` labels of ``crossbound_outgoing_blocked_total``."""

OUTCOMES: Final[frozenset[str]] = frozenset({"ACCEPT", "REVIEW", "REJECT"})
"""Values of the ``outcome`` label of ``crossbound_verdicts_total``."""

FINDING_SEVERITIES: Final[frozenset[str]] = frozenset({"reject", "review", "warn"})
"""Values of the ``severity`` label of ``crossbound_findings_total``."""

DEAD_LETTER_REASON_PATTERN: Final[re.Pattern[str]] = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
"""What a dead-letter ``reason`` must look like: a short machine code, never free text."""

LATENCY_BUCKETS: Final[tuple[float, ...]] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
)
"""Bucket upper bounds of ``crossbound_verdict_latency_seconds``, in seconds (+Inf is added)."""

_NAME_PATTERN: Final[re.Pattern[str]] = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def check_member(label: str, value: str, allowed: frozenset[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{label} must be one of {sorted(allowed)}, got {value!r}")


def check_name(label: str, value: str) -> None:
    if not isinstance(value, str) or not _NAME_PATTERN.match(value):
        raise ValueError(f"{label} must be an identifier (letters, digits, _ . : -), got {value!r}")
