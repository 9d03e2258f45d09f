"""An attestation: match it with its parked request, run the attestation rules, go to the hops or answer.

An attestation whose envelope or payload breaks a declared form, or whose band is outside its declared
range, is dead-lettered (:func:`~crossbound.pipeline.guard.refuse_input`), as an undecodable one is: its
request stays parked and is answered at its deadline. With a participant registry, its signature is
verified before it is matched (an unsigned late attestation is ``unsigned``), and once matched it must
come from the attester the request named (:mod:`~crossbound.pipeline.signatures`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from crossbound.codec.records import Attestation, QuotaStep, Request, StoredFinding
from crossbound.domain import DeadLetterReason
from crossbound.metrics import Metrics
from crossbound.pipeline.decoding import DeadLetter, Decoder
from crossbound.pipeline.guard import refuse_input
from crossbound.pipeline.outputs import Outputs
from crossbound.pipeline.records import Incoming, Outgoing
from crossbound.pipeline.requests import check_key
from crossbound.pipeline.signatures import Signatures
from crossbound.pipeline.stores import AnsweredStore, PendingStore
from crossbound.rules import Catalogue, Context, Finding, Outcome, RuleSet, Severity, evaluate, outcome_of
from crossbound.rules.compiler import request_memo
from crossbound.rules.engine import OnError, applies
from crossbound.rules.stateful import hop_key
from crossbound.topics import wire_side

__all__ = ["ATTESTATION", "Attestations", "finding"]

ATTESTATION = "core/attestation"


def finding(raw: StoredFinding) -> Finding:
    """A stored finding, back as a :class:`~crossbound.rules.Finding`."""
    return Finding(raw["rule_id"], Severity(raw["severity"]), raw["field"], raw["code"])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class Attestations:
    """The attestations topics' handler."""

    def __init__(
        self,
        decoder: Decoder,
        pending: PendingStore,
        answered: AnsweredStore,
        outputs: Outputs,
        metrics: Metrics,
        on_rule_error: Mapping[str, OnError],
        clock: Callable[[], float],
        partitions: int | None,
        signatures: Signatures | None = None,
    ) -> None:
        self.decoder = decoder
        self.pending = pending
        self.answered = answered
        self.outputs = outputs
        self.metrics = metrics
        self.on_rule_error = on_rule_error
        self.clock = clock
        self.partitions = partitions
        self.signatures = signatures  # None: no participant registry, nothing to check
        catalogue: Catalogue = decoder.catalogue
        self.registry = registry = decoder.codec.registry
        self.input_checks = registry.current(ATTESTATION).input_checks
        self.b_fields = {  # the attested (class B) fields each scenario releases
            sid: tuple(
                n for n, c in registry.current(rs.attestation_subject).field_classes.items() if c == "B"
            )
            for sid, rs in catalogue.scenarios.items()
        }

    def on_attestation(self, side: str, rec: Incoming) -> list[Outgoing]:
        """An attestation from ``side``: match it with its parked request and decide."""
        self.metrics.record(side, "attestation")
        att = cast(Attestation, self.decoder.record(rec.value, ATTESTATION))
        request_id, scenario = att["request_id"], att["scenario_id"]
        refuse_input(self.input_checks, att, request_id, scenario, payload=False)
        key = check_key(rec, request_id, scenario, self.partitions)
        a = self.answered.get(key)
        if a is not None:
            # answered is the truth: a crash between answering and unparking can leave it parked too
            self.pending.discard(key)
            if (a["attestation_partition"], a["attestation_offset"]) == (rec.partition, rec.offset):
                # a redelivery of the attestation that answered the request
                return self.answered.send_again(key, self.answered.again(a))
        signer = None
        if self.signatures is not None:  # who sent it, before what it says is compared with anything
            signer = self.signatures.verify_attestation(side, rec, att, int(self.clock() * 1000))
        if a is not None:
            raise DeadLetter(
                DeadLetterReason.LATE_ATTESTATION, "the request was already answered", request_id, scenario
            )
        raw = self.pending.table.get(key)
        if raw is None:
            raise DeadLetter(
                DeadLetterReason.ORPHAN_ATTESTATION, "no request is waiting for it", request_id, scenario
            )
        parked, request, payload = self.pending.load(key, raw)
        rs = self.decoder.ruleset(request["scenario_id"], request_id)
        if att["scenario_id"] != rs.scenario_id or wire_side(att["attester_side"]) != side:
            raise DeadLetter(
                DeadLetterReason.WRONG_SIDE,
                "attestation's scenario or side differs from the request's",
                request_id,
            )
        if side != wire_side(rs.attester_side):
            raise DeadLetter(
                DeadLetterReason.WRONG_SIDE, "attestation came from the requesting side", request_id, scenario
            )
        if signer is not None and self.signatures is not None:
            self.signatures.authorise_attestation(side, signer, att, request)
        findings = [finding(f) for f in parked["findings"]]
        attested: dict[str, str] = {}
        memo = self.pending.memo(key, raw)  # the request's own preconditions, as evaluated so far
        now = datetime.fromtimestamp(self.clock(), UTC)
        status = att["status"]
        if status == "FOUND":
            if att["payload"] is None:
                raise DeadLetter(
                    DeadLetterReason.PAYLOAD_MISSING, "status FOUND needs a payload", request_id, scenario
                )
            att_payload = self.decoder.payload(rs, att["payload"], rs.attestation_subject, request_id)
            att_checks = self.registry.current(rs.attestation_subject).input_checks
            refuse_input(att_checks, att_payload, request_id, rs.scenario_id, payload=True)
            ctx = Context(
                request, payload, now, attestation=att_payload, ruleset_version=rs.version, memo=memo
            )
            findings += evaluate(rs.stage("attestation"), ctx, self.on_rule_error[rs.scenario_id])
            attested = {n: _text(att_payload.get(n)) for n in self.b_fields[rs.scenario_id]}
            memo = request_memo(ctx.memo)
        else:
            findings.append(
                Finding(f"{rs.scenario_id}:attestation", Severity.REJECT, "", f"ATTESTATION_{status}")
            )
        steps, memo = _hops(rs, request, payload, now, memo) if rs.steps else ([], memo)
        source = parked["source_topic"], parked["source_partition"], parked["source_offset"]
        if steps and outcome_of(findings) is not Outcome.REJECT:
            out = self.outputs.hop_record(
                request, steps, findings, attested, parked["request"], source[:2], payload=payload, memo=memo
            )
        else:
            out = self.outputs.verdict(rs, request, findings, attested, now, rec.partition)
        # answered first, then no longer pending: a fault in between leaves the request parked (it times out)
        self.answered.answer(key, request, parked["body_sha256"], source, (rec.partition, rec.offset), out)
        self.pending.remove(key)
        return [out]


def _hops(
    rs: RuleSet,
    request: Request,
    payload: dict[str, Any],
    now: datetime,
    memo: dict[Any, Any] | None = None,
) -> tuple[list[QuotaStep], dict[Any, Any]]:
    """The stateful hops this request must visit: those with a rule whose ``when`` holds; and the
    memo of the preconditions evaluated to find them (starting from ``memo``: the request's own
    preconditions, already evaluated on these request and payload objects)."""
    ctx = Context(request, payload, now, ruleset_version=rs.version, memo={} if memo is None else memo)
    steps: list[QuotaStep] = [
        {"index": step.index, "key": hop_key(step, ctx)}
        for step in rs.steps
        if any(applies(rule, ctx) for rule in step.rules)
    ]
    return steps, ctx.memo
