"""The records the pipeline produces: verdict, dead letter, attestation request, hop record.

Each encoder also counts what it sends (verdicts, findings, dead letters), once the record is built:
an output that fails to encode is not counted. The two records that cross the boundary, the
attestation request and the verdict, pass the outgoing guard (:class:`~crossbound.pipeline.guard.Guard`)
just before they are encoded; one that fails it raises a ``DeadLetter`` for the input instead.

Every record is checked against the size budget of its topic once encoded
(:class:`~crossbound.pipeline.budget.OutputLimits`): one that would not fit raises
:class:`~crossbound.pipeline.budget.OutputTooLarge`, before it is counted and before any table write
of its input, so the input's one outcome is its ``output_too_large`` dead letter. A dead letter
itself is made to fit: the record bytes it keeps are cut further (to 64 KiB, then to none) when the
dead-letter topic's budget needs it; ``value_size`` still says how large the record was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from crossbound import __version__
from crossbound.codec import Codec
from crossbound.codec.records import QuotaCheck, QuotaStep, Request, StoredFinding
from crossbound.domain import DeadLetterReason
from crossbound.metrics import Metrics
from crossbound.pipeline.budget import OutputLimits, OutputTooLarge, record_size
from crossbound.pipeline.guard import Guard
from crossbound.pipeline.inhand import InHand
from crossbound.pipeline.records import Incoming, Outgoing
from crossbound.rules import Finding, Outcome, RuleSet, outcome_of
from crossbound.rules.compiler import request_memo
from crossbound.topics import Topics, wire_side

__all__ = ["DLQ_KEEP_BYTES", "Outputs", "source_time", "stored"]

DLQ_KEEP_BYTES = 64 * 1024  # what a dead letter keeps of a record over the size limit


def source_time(timestamp_ms: int | None) -> datetime | None:
    """A consumed record's Kafka timestamp as a dead letter carries it: None when it has no usable one.

    The timestamp is set by the producer, so it is untrusted input like the rest of the record:
    Kafka's ``-1`` (no timestamp), any other time before the epoch, and any time outside what a
    datetime holds (years 1 to 9999) become None rather than an error in the dead-letter path itself.
    """
    if timestamp_ms is None or timestamp_ms < 0:
        return None
    try:
        return datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def stored(findings: Sequence[Finding]) -> list[StoredFinding]:
    """Findings as records keep them (dict literals: a TypedDict call costs four times as much)."""
    return [
        {"rule_id": f.rule_id, "severity": f.severity.value, "field": f.field, "code": f.code}
        for f in findings
    ]


class Outputs:
    """Encoders of the four output records, on the topics of one deployment."""

    def __init__(
        self,
        codec: Codec,
        metrics: Metrics,
        topics: Topics,
        clock: Callable[[], float],
        limits: OutputLimits | None = None,
    ) -> None:
        self.codec = codec
        self.metrics = metrics
        self.topics = topics
        self.clock = clock
        self.guard = Guard(codec.registry, metrics)
        self.limits = limits  # None: no budget (a broker-free run with nothing to refuse a record)
        # the signature header a verdict or attestation request gets on its way out (signatures.py)
        self.signature_reserve: tuple[tuple[str, bytes], ...] = ()
        self._requester_only: dict[str, frozenset[str]] = {}
        self.in_hand = InHand()  # hop records kept decoded for a hop in this process (inhand.py)

    def _fit(self, record: str, out: Outgoing, request_id: str) -> Outgoing:
        """``out``, if it fits its topic's budget; else :class:`OutputTooLarge` (counted)."""
        if self.limits is not None:
            headers = out.headers
            if record in ("verdict", "attestation_request"):
                headers += self.signature_reserve
            try:
                self.limits.check(record, out.topic, out.key, out.value, headers, request_id)
            except OutputTooLarge:
                self.metrics.output_failed(record, "too_large")
                raise
        return out

    def verdict(
        self,
        rs: RuleSet,
        request: Request,
        findings: Sequence[Finding],
        attested: dict[str, str],
        now: datetime,
        partition: int | None,
    ) -> Outgoing:
        """The verdict on ``request``, for its requester side."""
        outcome = outcome_of(findings)
        if outcome is Outcome.REJECT:
            attested = {}  # a rejected request releases nothing (scenarios.md 4.3)
        side = wire_side(request["requester_side"])
        created = request["created_at"]
        record: dict[str, Any] = {
            "request_id": request["request_id"],
            "scenario_id": rs.scenario_id,
            "ruleset_version": rs.version,
            "requester_side": request["requester_side"],
            "attester_side": request["attester_side"],
            "outcome": outcome.value,
            "findings": [f.as_record() for f in findings],
            "attested": attested,
            "request_created_at": created,
            "decided_at": now,
            "crossbound_version": __version__,
        }
        self.guard.verdict(record, rs.attestation_subject)
        value = self.codec.encode("core/verdict", record)
        side_topic = self.topics.for_institution(side, "verdicts", request["requester_inst"])
        out = self._fit(
            "verdict",
            Outgoing(side_topic, request["request_id"].encode(), value, partition),
            record["request_id"],
        )
        self.metrics.verdict(side, rs.scenario_id, outcome.value, max(0.0, (now - created).total_seconds()))
        for f in findings:
            self.metrics.finding(rs.scenario_id, f.rule_id, f.severity.value.lower())
        return out

    def dead_letter(
        self,
        side: str,
        rec: Incoming,
        reason: DeadLetterReason,
        detail: str,
        request_id: str | None = None,
        scenario: str | None = None,
    ) -> Outgoing:
        """A dead letter for ``rec`` on ``side``, with its original bytes and coordinates.

        A record over the size limit keeps only its first 64 KiB: forwarding it whole would make the
        dead letter itself too large for the broker (Kafka's default limit is 1 MiB). A dead letter
        over the dead-letter topic's budget keeps 64 KiB, then none of the record's bytes.
        """
        headers = (("crossbound.reason", reason.encode()), ("crossbound.source", rec.topic.encode()))
        topic = self.topics.deadletter(side)
        value = rec.value
        if value is not None and len(value) > self.codec.max_record_bytes:
            value = value[:DLQ_KEEP_BYTES]
        body = self._dead_letter_body(rec, reason, detail, request_id, scenario, value)
        limit = None if self.limits is None else self.limits.limit(topic)
        for keep in (DLQ_KEEP_BYTES, 0):
            if limit is None or value is None or record_size(rec.key, body, headers) <= limit:
                break
            value = value[:keep]
            body = self._dead_letter_body(rec, reason, detail, request_id, scenario, value)
        self.metrics.dead_letter(side, reason)
        return Outgoing(topic, rec.key, body, rec.partition, headers)

    def _dead_letter_body(
        self,
        rec: Incoming,
        reason: DeadLetterReason,
        detail: str,
        request_id: str | None,
        scenario: str | None,
        value: bytes | None,
    ) -> bytes:
        return self.codec.encode(
            "core/deadletter",
            {
                "reason": reason,
                "detail": detail,
                "source_topic": rec.topic,
                "source_partition": rec.partition,
                "source_offset": rec.offset,
                "source_timestamp": source_time(rec.timestamp_ms),
                "key": rec.key,
                "value": value,
                "value_size": 0 if rec.value is None else len(rec.value),
                "request_id": request_id,
                "scenario_id": scenario,
                "failed_at": datetime.fromtimestamp(self.clock(), UTC),
                "crossbound_version": __version__,
            },
        )

    def attestation_request(
        self,
        rs: RuleSet,
        request: Request,
        payload: Mapping[str, Any],
        deadline_ms: int,
        partition: int,
    ) -> Outgoing:
        """The request, as the attester side sees it: what to attest, and by when.

        ``payload`` is the request's decoded payload: the guard checks it, and it crosses encoded
        with the payload schema's current version, so what crosses is exactly what was checked (an
        older writer version's fields, dropped on reading, do not cross unchecked). Fields whose
        schema says ``"crosses": false`` (a ledger reference: the same for a person whoever the
        counterparty, and of no use to the attester) cross as null, so counterparties cannot link a
        person through them.
        """
        kept = self._requester_only.get(rs.request_subject)
        if kept is None:  # once per subject: the fields its schema says stay with the requester
            fields = self.codec.registry.current(rs.request_subject).raw["fields"]
            kept = frozenset(f["name"] for f in fields if f.get("crosses") is False)
            self._requester_only[rs.request_subject] = kept
        if kept:
            payload = {k: None if k in kept else v for k, v in payload.items()}
        consent = request["consent"]
        record: dict[str, Any] = {
            "request_id": request["request_id"],
            "scenario_id": rs.scenario_id,
            "ruleset_version": rs.version,
            "requester_side": request["requester_side"],
            "attester_side": request["attester_side"],
            "requester_inst": request["requester_inst"],
            "attester_inst": request["attester_inst"],
            "request_created_at": request["created_at"],
            "deadline": datetime.fromtimestamp(deadline_ms / 1000, UTC),
            "digest_alg": request["digest_alg"],
            "hmac_key_id": request["hmac_key_id"],
            "nonce": request["nonce"],
            "consent_id": consent["consent_id"] if consent else None,
            "payload": b"",
        }
        self.guard.attestation_request(record, payload, rs.request_subject)
        record["payload"] = self.codec.encode(rs.request_subject, payload)
        out = self.codec.encode("core/attestation_request", record)
        topic = self.topics.for_institution(
            wire_side(rs.attester_side), "attestation-requests", request["attester_inst"]
        )
        rid = request["request_id"]
        return self._fit("attestation_request", Outgoing(topic, rid.encode(), out, partition), rid)

    def hop_record(
        self,
        request: Request,
        steps: list[QuotaStep],
        findings: Sequence[Finding],
        attested: dict[str, str],
        request_bytes: bytes,
        source: tuple[str, int],
        new_members: Sequence[str] = (),
        payload: dict[str, Any] | None = None,
        memo: Mapping[Any, Any] | None = None,
    ) -> Outgoing:
        """The request on its way to its next stateful hop, keyed (and so partitioned) by the hop's key.

        With ``payload`` (the request's, decoded), the record, the request, the payload and the
        findings are kept decoded for the hop, should it run in this process, with ``memo`` (a
        context's memo of this request and payload, of which the request's own preconditions are
        kept: :mod:`~crossbound.pipeline.inhand`).
        """
        record: QuotaCheck = {
            "request_id": request["request_id"],
            "quota_key": steps[0]["key"],
            "steps": steps,
            "new_members": list(new_members),
            "request": request_bytes,
            "findings": stored(findings),
            "attested": attested,
            "source_topic": source[0],
            "source_partition": source[1],
        }
        value = self.codec.encode("internal/quota_check", record)
        out = self._fit(
            "hop_record", Outgoing(self.topics.quota, steps[0]["key"].encode(), value), request["request_id"]
        )
        if payload is not None:
            kept = {} if memo is None else request_memo(memo)
            self.in_hand.keep(value, (record, request, payload, tuple(findings), kept))
        return out
