"""The data model of rule sets, findings and outcomes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "STAGES",
    "Context",
    "Finding",
    "FingerprintMode",
    "Outcome",
    "Rule",
    "RuleSet",
    "Severity",
    "Step",
    "outcome_of",
]

STAGES = ("request", "attestation", "quota")


class Severity(StrEnum):
    """What a failed rule does to the verdict."""

    REJECT = "REJECT"
    REVIEW = "REVIEW"
    WARN = "WARN"


class Outcome(StrEnum):
    """The verdict."""

    ACCEPT = "ACCEPT"
    REVIEW = "REVIEW"
    REJECT = "REJECT"


@dataclass(frozen=True, slots=True)
class Finding:
    """One failed rule: which rule, how bad, which field, and a code. Never a value."""

    rule_id: str
    severity: Severity
    field: str
    code: str

    def as_record(self) -> dict[str, str]:
        """The Avro/JSON form."""
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "field": self.field,
            "code": self.code,
        }


def outcome_of(findings: Sequence[Finding]) -> Outcome:
    """REJECT if any finding rejects, REVIEW if any asks for review, else ACCEPT (warnings pass)."""
    outcome = Outcome.ACCEPT
    for f in findings:
        if f.severity is Severity.REJECT:
            return Outcome.REJECT
        if f.severity is Severity.REVIEW:
            outcome = Outcome.REVIEW
    return outcome


@dataclass(slots=True)
class Context:
    """What a rule can read: the request envelope, the payloads, and the decision time."""

    request: Mapping[str, Any]
    payload: Mapping[str, Any]
    now: datetime
    attestation: Mapping[str, Any] | None = None
    ruleset_version: str = ""
    quota_used: Mapping[str, Any] | None = None
    cel_cache: dict[str, Any] | None = None
    memo: dict[Any, Any] = field(default_factory=dict)  # per-request results shared by rules

    def root(self, name: str) -> Any:
        """The top-level object a field path starts from."""
        if name == "payload":
            return self.payload
        if name == "request":
            return self.request
        if name == "attestation":
            return self.attestation
        if name == "consent":
            return self.request.get("consent")
        raise KeyError(name)


# A compiled check: returns the failures as (field path, code) pairs; empty when the rule passes.
CheckFn = Callable[[Context], list[tuple[str, str]]]
# A compiled precondition: the rule applies only when it returns True.
WhenFn = Callable[[Context], bool]


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule."""

    id: str
    stage: str
    severity: Severity
    check: str
    fields: tuple[str, ...]
    description: str
    source: str
    params: Mapping[str, Any]
    fn: CheckFn
    when: WhenFn | None = None
    count_when: WhenFn | None = None  # stateful rules: when the request is counted (default: ``when``)


@dataclass(frozen=True, slots=True)
class Step:
    """One hop of the stateful stage: the rules that share a ledger and a key.

    ``kind`` is ``ledger`` (quota and distinct rules: state and verdict at the key), ``members``
    (is this subject new under the key this year? for subject_volume) or ``volume`` (count of the
    distinct subjects under the key, fed by its members step). A request visits its steps in order,
    each on the internal quota topic keyed by the step's key, so each key's state lives in one partition.
    """

    index: int
    kind: str
    ledger: str
    key: tuple[str, ...]
    rules: tuple[Rule, ...]
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class FingerprintMode:
    """A scenario verified by fingerprint lookup (``verification = "fingerprint"``), as on the platform.

    The data source publishes the fingerprint of each document when it issues it; a request is then
    answered at once from the registry (:mod:`crossbound.pipeline.fingerprints`), with no attestation
    round trip. ``digest_field`` is the request path of the digest of what the subject handed over
    (the lookup key), ``subject_field`` the path of the HMAC compared with the record's subject
    reference, ``document_type`` the one type of document the scenario accepts.
    """

    document_type: str
    digest_field: str
    subject_field: str


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A scenario's versioned rule set, compiled once."""

    scenario_id: str
    version: str
    title: str
    theme: str
    requester_side: str
    attester_side: str
    purposes: tuple[str, ...]
    request_subject: str
    attestation_subject: str
    path: str
    digest: str
    rules: tuple[Rule, ...]
    timeout_severity: Severity = Severity.REJECT
    attestation_timeout_s: float | None = None  # None: the pipeline's attestation_timeout_s
    description: str = ""
    status: str = ""  # how far the scheme is
    platform_status: str = ""  # whether a public source puts it on the validation platform
    limits_authority: str = ""  # who is authoritative for per-person limits that span institutions
    sources: tuple[str, ...] = ()
    purpose_field: str | None = None
    personal_data: bool = False
    pipl_outbound: bool = False  # PI processed in the mainland leaves it (PIPL Art 39: C3)
    pipl_outbound_reason: str = ""
    sensitive_personal_data: bool = False
    common_rule_ids: frozenset[str] = frozenset()
    steps: tuple[Step, ...] = ()
    by_stage: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    fingerprint: FingerprintMode | None = None  # None: verified by live attestation

    def stage(self, name: str) -> tuple[Rule, ...]:
        """The rules of one stage, in file order."""
        return self.by_stage.get(name, ())

    def timeout_ms(self, default_ms: int) -> int:
        """How long a request waits for its attestation: the scenario's own timeout, at most ``default_ms``.

        The pipeline's ``attestation_timeout_s`` is the default and the upper bound: start-up checks
        the topics' retention against it, so a scenario may wait less, never longer.
        """
        if self.attestation_timeout_s is None:
            return default_ms
        return min(default_ms, int(self.attestation_timeout_s * 1000))

    @property
    def major(self) -> str:
        """The major version number, which requests must match."""
        return self.version.split(".", 1)[0]
